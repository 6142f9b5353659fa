use paperclip::v2::models::DefaultSchemaRaw;
use paperclip::v2::schema::Apiv2Schema;
use serde::Deserialize;

/// A body field the contract requires. It still deserialises when absent
/// (as `None`), so a missing field becomes a 422 naming it, like any other
/// rule, instead of a bare parse error; the OpenAPI document lists it as
/// required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Required<T>(pub Option<T>);

impl<T> Required<T> {
    pub fn as_ref(&self) -> Option<&T> {
        self.0.as_ref()
    }

    pub fn into_inner(self) -> Option<T> {
        self.0
    }
}

impl<T: Apiv2Schema> Apiv2Schema for Required<T> {
    fn name() -> Option<String> {
        T::name()
    }

    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }

    fn required() -> bool {
        true
    }
}
