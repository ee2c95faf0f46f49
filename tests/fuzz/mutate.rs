//! Input mutators: structural edits of JSON documents (values swapped for the numbers that
//! break size arithmetic, keys deleted or added, types changed), raw byte edits of any file
//! (truncation, flips, insertions), and `.npy` files whose header fields are rewritten.
//! Every choice is drawn from the quickcheck [`Gen`], so a failing case shrinks and prints.

use quickcheck::{Arbitrary, Gen};
use serde_json::{json, Value};

/// Numbers that have broken size arithmetic, step control or parsing somewhere: zero, signs,
/// 2^63 and 2^64 − 1 (as exact JSON integers), the extremes of `f64`, subnormals, and sizes
/// that are legal but absurd.
pub fn interesting_number(g: &mut Gen) -> Value {
    let pool: [Value; 24] = [
        json!(0),
        json!(-1),
        json!(1),
        json!(2),
        json!(3),
        json!(9223372036854775808u64),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e308),
        json!(-1e308),
        json!(5e-324),
        json!(1e-300),
        json!(1e-17),
        json!(1e7),
        json!(1e9),
        json!(1e12),
        json!(0.5),
        json!(-0.0),
        json!(1.8e19),
        json!(4096),
        json!(100000),
        json!(2.5),
        json!(-2.5),
        json!(1e-8),
    ];
    g.choose(&pool).unwrap().clone()
}

fn interesting_string(g: &mut Gen) -> Value {
    let pool = [
        "",
        "NaN",
        "inf",
        "-inf",
        "1e-8",
        "every=0",
        "dt=5e-324",
        "dt=1e-300",
        "gaussian",
        "npy",
        "radau5",
        "gd",
        "half_mean",
        "\u{0}",
        "../../../../etc",
        "/nonexistent/dir",
        "W1.npy",
    ];
    let s = g.choose(&pool).unwrap();
    if bool::arbitrary(g) && u8::arbitrary(g) < 16 {
        json!("x".repeat(5000))
    } else {
        json!(s)
    }
}

/// Every JSON pointer in `v` (the root is `""`).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(
                    c,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                )
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out)
            }
        }
        _ => {}
    }
}

/// Applies one structural edit at a random node of `v`.
pub fn mutate_json(v: &mut Value, g: &mut Gen) {
    let mut all = Vec::new();
    pointers(v, String::new(), &mut all);
    let at = g.choose(&all).unwrap().clone();
    let op = u8::arbitrary(g) % 10;
    // deleting needs the parent
    if op == 0 && !at.is_empty() {
        let (parent, key) = at.rsplit_once('/').unwrap();
        let key = key.replace("~1", "/").replace("~0", "~");
        match v.pointer_mut(parent) {
            Some(Value::Object(m)) => {
                m.remove(&key);
            }
            Some(Value::Array(a)) => {
                if let Ok(i) = key.parse::<usize>() {
                    if i < a.len() {
                        a.remove(i);
                    }
                }
            }
            _ => {}
        }
        return;
    }
    let Some(node) = v.pointer_mut(&at) else {
        return;
    };
    match op {
        1..=3 => *node = interesting_number(g),
        4 => *node = interesting_string(g),
        5 => {
            let pool = [
                json!(null),
                json!(true),
                json!([]),
                json!({}),
                json!([1, 2]),
            ];
            *node = g.choose(&pool).unwrap().clone()
        }
        6 => {
            if let Value::Object(m) = node {
                let keys = ["unknown", "kind", "n", "hidden", "max_steps", "trace", "g"];
                m.insert(g.choose(&keys).unwrap().to_string(), interesting_number(g));
            } else if let Value::Array(a) = node {
                if let Some(x) = a.first().cloned() {
                    for _ in 0..(u8::arbitrary(g) % 5) {
                        a.push(x.clone());
                    }
                }
            }
        }
        7 => {
            if let Some(x) = node.as_f64() {
                let e = i32::from(i8::arbitrary(g)) % 40;
                *node = json!(x * 10f64.powi(e));
            }
        }
        8 => {
            if let Some(x) = node.as_f64() {
                *node = json!(-x);
            }
        }
        _ => {
            // numbers as strings and back, the most common hand-edit error
            *node = match node.take() {
                Value::Number(n) => json!(n.to_string()),
                Value::String(s) => s.parse::<f64>().map(|x| json!(x)).unwrap_or(json!(s)),
                other => other,
            }
        }
    }
}

/// Applies one raw edit to `bytes`: truncate, flip a byte, insert or delete a span.
pub fn mutate_bytes(bytes: &mut Vec<u8>, g: &mut Gen) {
    if bytes.is_empty() {
        bytes.push(u8::arbitrary(g));
        return;
    }
    let i = usize::arbitrary(g) % bytes.len();
    match u8::arbitrary(g) % 5 {
        0 => bytes.truncate(i),
        1 => bytes[i] ^= 1 << (u8::arbitrary(g) % 8),
        2 => bytes[i] = u8::arbitrary(g),
        3 => {
            let pool: [&[u8]; 6] = [
                b"{",
                b"}",
                b"\"",
                b",",
                b"99999999999999999999",
                b"\xff\xfe",
            ];
            let ins = g.choose(&pool).unwrap();
            bytes.splice(i..i, ins.iter().copied());
        }
        _ => {
            let j = (i + usize::arbitrary(g) % 16).min(bytes.len());
            bytes.drain(i..j);
        }
    }
}

/// A `.npy` version-1.0 file with the given header dictionary text and payload, padded as
/// NumPy pads it (the length field is what the dictionary needs unless `bad_len`).
pub fn npy_file(dict: &str, payload: &[u8], bad_len: Option<u16>) -> Vec<u8> {
    let mut text = dict.to_string();
    while !(10 + text.len() + 1).is_multiple_of(16) {
        text.push(' ');
    }
    text.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    let len = bad_len.unwrap_or(text.len() as u16);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// A generated `.npy` file: a small valid matrix whose header fields (dtype, order, shape,
/// length) and bytes are then edited.
#[derive(Clone, Debug)]
pub struct NpyCase(pub Vec<u8>);

impl Arbitrary for NpyCase {
    fn arbitrary(g: &mut Gen) -> Self {
        let rows = usize::arbitrary(g) % 4 + 1;
        let cols = usize::arbitrary(g) % 4 + 1;
        let mut values: Vec<f64> = (0..rows * cols).map(|i| i as f64 * 0.25 - 1.0).collect();
        if u8::arbitrary(g) < 20 {
            let i = usize::arbitrary(g) % values.len();
            values[i] = *g.choose(&[f64::NAN, f64::INFINITY, 1e308, 5e-324]).unwrap();
        }
        let payload: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let descr = *g
            .choose(&[
                "<f8", "<f8", "<f8", ">f8", "<f4", "<i8", "|b1", "<c16", "O", "<f8'",
            ])
            .unwrap();
        let fortran = *g.choose(&["False", "True", "None", "1", "'x'"]).unwrap();
        let huge = [
            "9223372036854775808",
            "18446744073709551615",
            "4294967296",
            "-1",
        ];
        let shape = match u8::arbitrary(g) % 8 {
            0 => format!("({},)", rows * cols),
            1 => "()".to_string(),
            2 => format!("({rows}, {cols}, 1)"),
            3 => format!("({}, {cols})", g.choose(&huge).unwrap()),
            4 => format!("({rows}, {})", g.choose(&huge).unwrap()),
            5 => format!("(0, {cols})"),
            _ => format!("({rows}, {cols})"),
        };
        let mut dict =
            format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
        if u8::arbitrary(g) < 10 {
            // a header far longer than any real one (the error must not echo it)
            dict.insert_str(
                dict.len() - 1,
                &format!("'pad': '{}', ", "y".repeat(60_000)),
            );
        }
        let bad_len = (u8::arbitrary(g) < 20).then(|| u16::arbitrary(g));
        let mut bytes = npy_file(&dict, &payload, bad_len);
        for _ in 0..(u8::arbitrary(g) % 3) {
            mutate_bytes(&mut bytes, g);
        }
        NpyCase(bytes)
    }
}

/// A JSON document (one of `bases`) after a few structural edits and, sometimes, a raw one.
#[derive(Clone, Debug)]
pub struct JsonCase {
    /// The file's text.
    pub text: String,
}

/// Mutates `base` with 1–3 structural edits, and with probability ~1/8 a raw edit of the text.
pub fn json_case(base: &Value, g: &mut Gen) -> JsonCase {
    let mut v = base.clone();
    for _ in 0..(u8::arbitrary(g) % 3 + 1) {
        mutate_json(&mut v, g);
    }
    let mut text = serde_json::to_string_pretty(&v).unwrap();
    if u8::arbitrary(g) < 32 {
        let mut b = text.into_bytes();
        mutate_bytes(&mut b, g);
        text = String::from_utf8_lossy(&b).into_owned();
    }
    JsonCase { text }
}
