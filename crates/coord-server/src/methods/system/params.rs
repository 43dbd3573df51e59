//! Reading the parameters of a `system.*` call as ClaudeBench does: checked against the
//! method's [`Schema`] the way its zod schemas check them, and refused with -32602 "Invalid
//! parameters" whose `data` is the list of zod's issues (`code`, `path`, `message`, and
//! `expected`/`received` or `minimum` as zod gives them). Every problem is listed, in the
//! order of the schema's fields, and a refused call changes nothing. Fields the schema does not
//! name are ignored, as zod's objects strip them.

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::methods::schema::{Presence, Schema};
use crate::rpc::{Params, RpcError, code};

/// Checks a call's parameters (absent or `null`: `{}`) against `schema` and reads them into
/// `T`, which names the fields the method uses.
pub fn read<T: DeserializeOwned>(params: Params<'_>, schema: &Schema) -> Result<T, RpcError> {
    let value = match params {
        Params::Named(raw) => {
            serde_json::from_str(raw.map_or("{}", RawValue::get)).map_err(RpcError::internal)?
        }
        Params::Positional => Value::Array(Vec::new()),
    };
    let mut issues = Vec::new();
    check(schema, &value, &mut Vec::new(), &mut issues);
    if !issues.is_empty() {
        return Err(invalid(issues));
    }
    // The schema and `T` describe the same fields (the methods' tests hold them together).
    serde_json::from_value(value).map_err(RpcError::internal)
}

/// -32602 with zod's issues as `data`.
#[must_use]
pub fn invalid(issues: Vec<Value>) -> RpcError {
    RpcError {
        code: code::INVALID_PARAMS,
        message: "Invalid parameters".to_owned(),
        data: Some(Value::Array(issues)),
    }
}

/// zod's `custom` issue: a rule of coord's own, on the field at `path`.
#[must_use]
pub fn custom(path: &str, message: impl Into<String>) -> Value {
    json!({ "code": "custom", "message": message.into(), "path": [path] })
}

/// Adds to `issues` every way `value`, at `path`, does not fit `schema`.
fn check(schema: &Schema, value: &Value, path: &mut Vec<Value>, issues: &mut Vec<Value>) {
    let fits = matches!(
        (schema, value),
        (Schema::Any, _)
            | (Schema::Number, Value::Number(_))
            | (Schema::Boolean, Value::Bool(_))
            | (Schema::String { .. } | Schema::Enum(_), Value::String(_))
            | (Schema::Array(_), Value::Array(_))
            | (Schema::Record(_) | Schema::Object(_), Value::Object(_))
    );
    if !fits {
        issues.push(wrong_type(schema, received(value), path));
        return;
    }
    match (schema, value) {
        (Schema::String { min }, Value::String(s)) if s.encode_utf16().count() < *min => {
            issues.push(json!({
                "code": "too_small",
                "minimum": min,
                "type": "string",
                "inclusive": true,
                "exact": false,
                "message": format!("String must contain at least {min} character(s)"),
                "path": path,
            }));
        }
        (Schema::Enum(values), Value::String(s)) if !values.contains(&s.as_str()) => {
            issues.push(json!({
                "received": s,
                "code": "invalid_enum_value",
                "options": values,
                "path": path,
                "message": format!(
                    "Invalid enum value. Expected {}, received '{s}'",
                    schema.type_name()
                ),
            }));
        }
        (Schema::Array(item), Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.into());
                check(item, v, path, issues);
                path.pop();
            }
        }
        (Schema::Record(each), Value::Object(m)) => {
            for (k, v) in m {
                path.push(k.as_str().into());
                check(each, v, path, issues);
                path.pop();
            }
        }
        (Schema::Object(fields), Value::Object(m)) => {
            for f in *fields {
                path.push(f.name.into());
                match m.get(f.name) {
                    Some(v) => check(&f.schema, v, path, issues),
                    None if f.presence == Presence::Required
                        && !matches!(f.schema, Schema::Any) =>
                    {
                        issues.push(wrong_type(&f.schema, "undefined", path));
                    }
                    None => {}
                }
                path.pop();
            }
        }
        _ => {}
    }
}

/// zod's `invalid_type` issue.
fn wrong_type(schema: &Schema, received: &str, path: &[Value]) -> Value {
    let expected = schema.type_name();
    let message = if received == "undefined" {
        "Required".to_owned()
    } else {
        format!("Expected {expected}, received {received}")
    };
    json!({
        "code": "invalid_type",
        "expected": expected,
        "received": received,
        "path": path,
        "message": message,
    })
}

/// The type zod names for a JSON value.
fn received(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::schema::{Field, NAME, STRING};

    static REGISTER: Schema = Schema::Object(&[
        Field::required("id", NAME),
        Field::required("roles", Schema::Array(&STRING)),
        Field::optional(
            "metadata",
            Schema::Object(&[Field::optional("workingDirectory", STRING)]),
        ),
        Field::optional("phase", Schema::Enum(&["a", "b"])),
        Field::optional("labels", Schema::Record(&Schema::Boolean)),
        Field::required("anything", Schema::Any),
    ]);

    fn issues(v: &Value) -> Vec<Value> {
        let mut issues = Vec::new();
        check(&REGISTER, v, &mut Vec::new(), &mut issues);
        issues
    }

    #[test]
    fn issues_are_zods() {
        assert!(issues(&json!({ "id": " ", "roles": [], "extra": null })).is_empty());
        assert_eq!(
            issues(&json!({})),
            [
                json!({ "code": "invalid_type", "expected": "string", "received": "undefined", "path": ["id"], "message": "Required" }),
                json!({ "code": "invalid_type", "expected": "array", "received": "undefined", "path": ["roles"], "message": "Required" }),
            ]
        );
        assert_eq!(
            issues(&json!({ "id": "", "roles": ["a", 1], "metadata": null })),
            [
                json!({ "code": "too_small", "minimum": 1, "type": "string", "inclusive": true, "exact": false,
                        "message": "String must contain at least 1 character(s)", "path": ["id"] }),
                json!({ "code": "invalid_type", "expected": "string", "received": "number", "path": ["roles", 1],
                        "message": "Expected string, received number" }),
                json!({ "code": "invalid_type", "expected": "object", "received": "null", "path": ["metadata"],
                        "message": "Expected object, received null" }),
            ]
        );
        assert_eq!(
            issues(
                &json!({ "id": "x", "roles": [], "metadata": { "workingDirectory": 5 },
                            "phase": "c", "labels": { "k": "v" } })
            ),
            [
                json!({ "code": "invalid_type", "expected": "string", "received": "number",
                        "path": ["metadata", "workingDirectory"], "message": "Expected string, received number" }),
                json!({ "received": "c", "code": "invalid_enum_value", "options": ["a", "b"], "path": ["phase"],
                        "message": "Invalid enum value. Expected 'a' | 'b', received 'c'" }),
                json!({ "code": "invalid_type", "expected": "boolean", "received": "string", "path": ["labels", "k"],
                        "message": "Expected boolean, received string" }),
            ]
        );
        assert_eq!(
            issues(&json!([])),
            [
                json!({ "code": "invalid_type", "expected": "object", "received": "array", "path": [],
                     "message": "Expected object, received array" })
            ]
        );
    }

    #[test]
    fn a_refusal_is_invalid_parameters_with_the_issues() {
        let raw = RawValue::from_string(r#"{"id":1,"roles":[]}"#.to_owned()).unwrap();
        let e = read::<Value>(Params::Named(Some(&raw)), &REGISTER).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (-32602, "Invalid parameters"));
        assert_eq!(e.data.unwrap()[0]["path"], json!(["id"]));
        let e = read::<Value>(Params::Positional, &REGISTER).unwrap_err();
        assert_eq!(e.data.unwrap()[0]["received"], "array");
        assert!(read::<Value>(Params::Named(None), &Schema::Object(&[])).is_ok());
    }
}
