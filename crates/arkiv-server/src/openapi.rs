//! `GET /api/openapi.json` (public: it holds no data, and tools fetch it before logging on):
//! one OpenAPI 3.1 description of both APIs, the Administration API's paths generated from the
//! function table and the web's added.

use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The whole description.
pub fn document() -> Value {
    let mut doc = crate::functions::describe::openapi();
    if let Some(paths) = doc["paths"].as_object_mut() {
        crate::web::openapi_paths(paths);
    }
    doc
}

pub async fn serve() -> Response {
    axum::Json(document()).into_response()
}
