//! What each method takes and gives, as data: a [`Signature`] of [`Schema`]s, declared beside
//! the method. `system.discover` shows them in the simple JSON form ClaudeBench's discover
//! gives (`{type: "object", properties, required}`), and the `system.*` methods check their
//! parameters against them as ClaudeBench's zod schemas do ([`super::system::params`]).
//! coord's own methods read their parameters with serde; their signatures only describe them
//! (a test holds the two together).

use serde_json::{Map, Value, json};

/// The shape of a value.
#[derive(Debug)]
pub enum Schema {
    /// A string of at least `min` characters (UTF-16 units, as JavaScript counts).
    String {
        /// The fewest characters.
        min: usize,
    },
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// Anything.
    Any,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// A list of values of one shape.
    Array(&'static Schema),
    /// An object whose every value has one shape (free keys).
    Record(&'static Schema),
    /// An object with these fields (others are ignored: ClaudeBench's zod objects strip them).
    Object(&'static [Field]),
}

/// Any string.
pub const STRING: Schema = Schema::String { min: 0 };

/// A string that is not empty (an id, a name).
pub const NAME: Schema = Schema::String { min: 1 };

/// An object of which nothing is known but that it is one.
pub const OBJECT: Schema = Schema::Object(&[]);

/// The parameters of a method that takes none.
pub const NOTHING: Schema = OBJECT;

/// A field of an object.
#[derive(Debug)]
pub struct Field {
    /// Its name.
    pub name: &'static str,
    /// Its shape.
    pub schema: Schema,
    /// Whether it may be left out, and what it then is.
    pub presence: Presence,
}

/// Whether a field must be there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Presence {
    /// It must.
    Required,
    /// It may be left out (not `null`: ClaudeBench's `.optional()` takes `undefined` only).
    Optional,
    /// It may be left out, and is then this number.
    Default(u32),
}

impl Field {
    /// A field that must be there.
    #[must_use]
    pub const fn required(name: &'static str, schema: Schema) -> Self {
        Self {
            name,
            schema,
            presence: Presence::Required,
        }
    }

    /// A field that may be left out.
    #[must_use]
    pub const fn optional(name: &'static str, schema: Schema) -> Self {
        Self {
            name,
            schema,
            presence: Presence::Optional,
        }
    }

    /// A number that is `default` when left out.
    #[must_use]
    pub const fn defaulted(name: &'static str, default: u32) -> Self {
        Self {
            name,
            schema: Schema::Number,
            presence: Presence::Default(default),
        }
    }
}

/// What a method takes and gives.
#[derive(Debug)]
pub struct Signature {
    /// Its parameters (an object).
    pub input: Schema,
    /// Its result.
    pub output: Schema,
    /// Whether a call changes the store (ClaudeBench's `persist`).
    pub writes: bool,
}

impl Schema {
    /// The name zod gives this type in its issues (`expected`).
    #[must_use]
    pub fn type_name(&self) -> String {
        match self {
            Schema::String { .. } => "string".to_owned(),
            Schema::Number => "number".to_owned(),
            Schema::Boolean => "boolean".to_owned(),
            Schema::Any => "any".to_owned(),
            Schema::Enum(values) => values
                .iter()
                .map(|v| format!("'{v}'"))
                .collect::<Vec<_>>()
                .join(" | "),
            Schema::Array(_) => "array".to_owned(),
            Schema::Record(_) | Schema::Object(_) => "object".to_owned(),
        }
    }

    /// The JSON form `system.discover` shows.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            Schema::String { min: 0 } => json!({ "type": "string" }),
            Schema::String { min } => json!({ "type": "string", "minLength": min }),
            Schema::Enum(values) => json!({ "type": "string", "enum": values }),
            Schema::Array(items) => json!({ "type": "array", "items": items.to_json() }),
            Schema::Record(values) => {
                json!({ "type": "object", "additionalProperties": values.to_json() })
            }
            Schema::Object(fields) => {
                let mut properties = Map::new();
                for f in *fields {
                    let mut shown = f.schema.to_json();
                    if let (Presence::Default(d), Some(m)) = (f.presence, shown.as_object_mut()) {
                        m.insert("default".to_owned(), d.into());
                    }
                    properties.insert(f.name.to_owned(), shown);
                }
                let required: Vec<&str> = fields
                    .iter()
                    .filter(|f| f.presence == Presence::Required)
                    .map(|f| f.name)
                    .collect();
                json!({ "type": "object", "properties": properties, "required": required })
            }
            other => json!({ "type": other.type_name() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_form_is_discovers() {
        static NESTED: Schema = Schema::Object(&[
            Field::required("a", NAME),
            Field::optional("b", Schema::Array(&Schema::Boolean)),
            Field::defaulted("c", 5),
        ]);
        let cases = [
            (&STRING, json!({ "type": "string" })),
            (&NAME, json!({ "type": "string", "minLength": 1 })),
            (&Schema::Number, json!({ "type": "number" })),
            (&Schema::Any, json!({ "type": "any" })),
            (
                &Schema::Enum(&["x", "y"]),
                json!({ "type": "string", "enum": ["x", "y"] }),
            ),
            (
                &Schema::Record(&STRING),
                json!({ "type": "object", "additionalProperties": { "type": "string" } }),
            ),
            (
                &NESTED,
                json!({
                    "type": "object",
                    "properties": {
                        "a": { "type": "string", "minLength": 1 },
                        "b": { "type": "array", "items": { "type": "boolean" } },
                        "c": { "type": "number", "default": 5 },
                    },
                    "required": ["a"],
                }),
            ),
        ];
        for (schema, json) in cases {
            assert_eq!(schema.to_json(), json, "{schema:?}");
        }
        assert_eq!(Schema::Enum(&["a", "b"]).type_name(), "'a' | 'b'");
    }
}
