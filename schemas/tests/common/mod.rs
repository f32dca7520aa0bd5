//! Helpers shared by the schemas integration tests.

use serde_json::Value;

/// `v` as JSON text with object keys in reverse order and `ws` between
/// every token.
pub fn render_reversed(v: &Value, ws: &str, out: &mut String) {
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws);
                render_reversed(item, ws, out);
            }
            out.push_str(ws);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().rev().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws);
                out.push_str(&serde_json::to_string(k).expect("a string serialises"));
                out.push_str(ws);
                out.push(':');
                render_reversed(item, ws, out);
            }
            out.push_str(ws);
            out.push('}');
        }
        scalar => out.push_str(&serde_json::to_string(scalar).expect("a scalar serialises")),
    }
}
