//! One body field that never fails deserialisation: a missing field, a
//! `null` or a value of the wrong type is recorded, so the handler can name
//! every bad field in one `422` instead of serde stopping at the first.

use std::fmt;
use std::marker::PhantomData;

use paperclip::v2::models::{DataType, DefaultSchemaRaw};
use paperclip::v2::schema::Apiv2Schema;
use secrecy::SecretString;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::FieldErrors;

pub const MISSING: &str = "Missing data for required field.";
/// The one message for a value of the wrong type. Fixed on purpose: the
/// value itself (a password sent as a number, say) is never echoed.
pub const NOT_A_STRING: &str = "Expected a string.";

/// A JSON string field a request requires (`docs/http-api.md#request-bodies`).
#[derive(Default)]
pub enum Field<T> {
    #[default]
    Missing,
    WrongType,
    Present(T),
}

impl<T> Field<T> {
    /// The value, or the field's error recorded in `errors` under `name`.
    pub fn take(self, name: &str, errors: &mut FieldErrors) -> Option<T> {
        let message = match self {
            Field::Present(value) => return Some(value),
            Field::Missing => MISSING,
            Field::WrongType => NOT_A_STRING,
        };
        errors
            .entry(name.to_owned())
            .or_default()
            .push(message.to_owned());
        None
    }

    /// The value of a body's only field, or a `422` naming it.
    pub fn or_invalid(self, name: &str) -> Result<T, crate::error::ApiError> {
        let mut errors = FieldErrors::new();
        self.take(name, &mut errors)
            .ok_or(crate::error::ApiError::Validation(errors))
    }
}

/// Never prints the value: a field may hold a password.
impl<T> fmt::Debug for Field<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Missing => "Missing",
            Field::WrongType => "WrongType",
            Field::Present(_) => "Present(..)",
        })
    }
}

/// A text value a [`Field`] can hold.
pub trait Text: Sized {
    fn from_string(value: String) -> Self;
}

impl Text for String {
    fn from_string(value: String) -> Self {
        value
    }
}

impl Text for SecretString {
    fn from_string(value: String) -> Self {
        SecretString::from(value)
    }
}

impl<'de, T: Text> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<T>(PhantomData<T>);

impl<T> FieldVisitor<T> {
    fn wrong<E>(self) -> Result<Field<T>, E> {
        Ok(Field::WrongType)
    }
}

impl<'de, T: Text> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Field::Present(T::from_string(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(Field::Present(T::from_string(value)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Field::Missing)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Field::Missing)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        self.wrong()
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        self.wrong()
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        self.wrong()
    }

    fn visit_i128<E>(self, _: i128) -> Result<Self::Value, E> {
        self.wrong()
    }

    fn visit_u128<E>(self, _: u128) -> Result<Self::Value, E> {
        self.wrong()
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        self.wrong()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.wrong()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.wrong()
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
        self.wrong()
    }
}

/// Documented as a required string; the OpenAPI post-processing adds
/// each field's length and format rules.
impl<T> Apiv2Schema for Field<T> {
    fn name() -> Option<String> {
        None
    }

    fn raw_schema() -> DefaultSchemaRaw {
        DefaultSchemaRaw {
            data_type: Some(DataType::String),
            ..Default::default()
        }
    }

    fn required() -> bool {
        true
    }
}

/// Records a domain parser's error under `name`.
pub fn parsed<T, E: std::fmt::Display>(
    result: Result<T, E>,
    name: &str,
    errors: &mut FieldErrors,
) -> Option<T> {
    result
        .map_err(|error| {
            errors
                .entry(name.to_owned())
                .or_default()
                .push(error.to_string());
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default)]
        name: Field<String>,
        #[serde(default)]
        secret: Field<SecretString>,
    }

    fn body(raw: &str) -> Body {
        serde_json::from_str(raw).unwrap()
    }

    #[test]
    fn strings_are_present() {
        let parsed = body(r#"{"name": "ada", "secret": "hunter2"}"#);
        assert!(matches!(parsed.name, Field::Present(ref name) if name == "ada"));
        assert!(
            matches!(parsed.secret, Field::Present(ref secret) if secret.expose_secret() == "hunter2")
        );
    }

    #[test]
    fn absent_and_null_are_missing() {
        let parsed = body(r#"{"name": null}"#);
        assert!(matches!(parsed.name, Field::Missing));
        assert!(matches!(parsed.secret, Field::Missing));
    }

    #[test]
    fn every_other_type_is_wrong_and_parsing_goes_on() {
        for value in ["5", "-5", "1.5", "true", "[1, [2]]", r#"{"a": {"b": 1}}"#] {
            let parsed = body(&format!(r#"{{"name": {value}, "secret": {value}}}"#));
            assert!(matches!(parsed.name, Field::WrongType), "{value}");
            assert!(matches!(parsed.secret, Field::WrongType), "{value}");
        }
    }

    #[test]
    fn take_records_a_fixed_message_per_field() {
        let mut errors = FieldErrors::new();
        let parsed = body(r#"{"name": [1], "secret": 2}"#);
        assert!(parsed.name.take("name", &mut errors).is_none());
        assert!(parsed.secret.take("secret", &mut errors).is_none());
        assert_eq!(errors["name"], [NOT_A_STRING]);
        assert_eq!(errors["secret"], [NOT_A_STRING]);
        assert!(
            Field::<String>::Missing
                .take("other", &mut errors)
                .is_none()
        );
        assert_eq!(errors["other"], [MISSING]);
    }

    #[test]
    fn debug_never_shows_the_value() {
        let parsed = body(r#"{"name": "hunter2", "secret": "hunter2"}"#);
        assert!(!format!("{parsed:?}").contains("hunter2"));
    }
}
