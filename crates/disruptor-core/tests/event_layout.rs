//! `EventLayout` against `defineEvent`: the Trade layout and one slot that JavaScript wrote
//! (tests/fixtures/trade-event.txt, checked against the JavaScript side by
//! __test__/events.spec.ts). Rust computes the same offsets, reads every value back, and writes
//! the same bytes.

use disruptor_core::{EventLayout, FieldType, LayoutError};

const FIXTURE: &str = include_str!("fixtures/trade-event.txt");

fn trade() -> EventLayout {
    EventLayout::new([
        ("price", FieldType::F64),
        ("qty", FieldType::U32),
        ("side", FieldType::U8),
        ("ts", FieldType::U64),
        ("symbol", FieldType::Utf8(12)),
        ("levels", FieldType::Array(Box::new(FieldType::F64), 4)),
        ("n", FieldType::I64),
        ("ok", FieldType::Bool),
        ("tag", FieldType::Bytes(3)),
        ("small", FieldType::I16),
    ])
    .unwrap()
}

fn fixture() -> (usize, Vec<(String, usize, usize)>, Vec<u8>) {
    let (mut size, mut fields, mut slot) = (0, Vec::new(), Vec::new());
    for line in FIXTURE.lines().filter(|l| !l.starts_with('#')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["size", n] => size = n.parse().unwrap(),
            ["field", name, offset, len] => {
                fields.push((name.to_string(), offset.parse().unwrap(), len.parse().unwrap()))
            }
            ["slot", hex] => {
                slot = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect()
            }
            other => panic!("unexpected fixture line {other:?}"),
        }
    }
    (size, fields, slot)
}

#[test]
fn offsets_and_size_match_define_event() {
    let (size, fields, _) = fixture();
    let layout = trade();
    assert_eq!(layout.size(), size);
    let ours: Vec<(String, usize, usize)> =
        layout.fields().iter().map(|f| (f.name.clone(), f.offset, f.ty.size())).collect();
    assert_eq!(ours, fields);
}

#[test]
fn reads_what_javascript_wrote() {
    let (_, _, slot) = fixture();
    let t = trade();
    assert_eq!(t.f64(&slot, "price"), Ok(1.5));
    assert_eq!(t.u32(&slot, "qty"), Ok(10));
    assert_eq!(t.u8(&slot, "side"), Ok(1));
    assert_eq!(t.u64(&slot, "ts"), Ok(5));
    assert_eq!(t.utf8(&slot, "symbol"), Ok("AAPL€"));
    let levels: Vec<f64> = (0..4).map(|i| t.f64_at(&slot, "levels", i).unwrap()).collect();
    assert_eq!(levels, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(t.i64(&slot, "n"), Ok(-123_456_789_012));
    assert_eq!(t.bool(&slot, "ok"), Ok(true));
    assert_eq!(t.bytes(&slot, "tag"), Ok(&[7u8, 8][..]));
    assert_eq!(t.i16(&slot, "small"), Ok(-2));
}

#[test]
fn writes_what_javascript_wrote() {
    let (size, _, expected) = fixture();
    let t = trade();
    let mut slot = vec![0u8; size];
    t.set_f64(&mut slot, "price", 1.5).unwrap();
    t.set_u32(&mut slot, "qty", 10).unwrap();
    t.set_u8(&mut slot, "side", 1).unwrap();
    t.set_u64(&mut slot, "ts", 5).unwrap();
    t.set_utf8(&mut slot, "symbol", "AAPL€").unwrap();
    for (i, v) in [1.0, 2.0, 3.0, 4.0].into_iter().enumerate() {
        t.set_f64_at(&mut slot, "levels", i, v).unwrap();
    }
    t.set_i64(&mut slot, "n", -123_456_789_012).unwrap();
    t.set_bool(&mut slot, "ok", true).unwrap();
    t.set_bytes(&mut slot, "tag", &[7, 8]).unwrap();
    t.set_i16(&mut slot, "small", -2).unwrap();
    assert_eq!(slot, expected);
}

#[test]
fn bad_layouts_and_values_are_refused() {
    let t = trade();
    let mut slot = vec![0u8; t.size()];
    assert_eq!(
        t.set_utf8(&mut slot, "symbol", "ABCDEFGHIJKLM"),
        Err(LayoutError::TooLong { field: "symbol".into(), len: 13, capacity: 12 })
    );
    assert_eq!(slot, vec![0u8; t.size()], "nothing written");
    assert_eq!(t.f64(&slot, "qty"), Err(LayoutError::NoSuchField("qty".into())));
    assert_eq!(t.f64(&slot, "nope"), Err(LayoutError::NoSuchField("nope".into())));
    assert!(t.f64_at(&slot, "levels", 4).is_err());
    for bad in [
        vec![],
        vec![("a", FieldType::U8), ("a", FieldType::U8)],
        vec![("", FieldType::U8)],
        vec![("s", FieldType::Utf8(0))],
        vec![("a", FieldType::Array(Box::new(FieldType::Bool), 2))],
        vec![("a", FieldType::Array(Box::new(FieldType::F64), 9000))],
    ] {
        assert!(matches!(EventLayout::new(bad), Err(LayoutError::Invalid(_))));
    }
}
