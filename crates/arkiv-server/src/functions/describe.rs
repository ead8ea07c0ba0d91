//! What the function table says about itself: `get-metadata` (the bare JSON array of
//! functions MailStore's API clients extend their list with) and the Administration API's part
//! of the OpenAPI 3.1 description, generated from the same table.

use serde_json::{Value, json};

use super::{Run, Type};

/// What `get-metadata` answers: every function with its arguments.
pub fn metadata() -> Value {
    Value::Array(
        super::all()
            .map(|f| {
                json!({
                    "name": f.name,
                    "description": f.description,
                    "args": f.args.iter().map(|a| json!({
                        "name": a.name,
                        "type": a.ty.name(),
                        "nullable": a.optional,
                    })).collect::<Vec<_>>(),
                    "longRunning": matches!(f.run, Run::Long(_)),
                })
            })
            .collect(),
    )
}

/// An OpenAPI 3.1 description of the Administration API, generated from the same table; the
/// web's paths are added by `crate::openapi`.
pub fn openapi() -> Value {
    let envelope = json!({
        "type": "object",
        "required": ["error", "token", "statusVersion", "statusCode", "percentProgress", "statusText", "result", "logOutput"],
        "properties": {
            "error": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                "message": {"type": "string"}, "details": {"type": ["string", "null"]}}}]},
            "token": {"type": ["string", "null"]},
            "statusVersion": {"type": "integer"},
            "statusCode": {"type": "string", "enum": ["running", "succeeded", "failed"]},
            "percentProgress": {"type": ["integer", "null"]},
            "statusText": {"type": ["string", "null"]},
            "result": {},
            "logOutput": {"type": ["string", "null"]},
        }
    });
    let answer = json!({
        "description": "The envelope (HTTP 200 also when the function ran and failed: statusCode 'failed').",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}
    });
    let errors = json!({
        "400": {"description": "unknown, missing or mistyped argument", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}},
        "401": {"description": "no or wrong credentials"},
        "403": {"description": "not an administrator"},
        "404": {"description": "unknown function or token"},
        "413": {"description": "request body over 1 MiB"},
        "429": {"description": "too many failed logons: locked for a while"},
    });
    let mut paths = serde_json::Map::new();
    for f in super::all() {
        let props: serde_json::Map<String, Value> = f
            .args
            .iter()
            .map(|a| {
                let ty = match a.ty {
                    Type::String => "string",
                    Type::Number => "integer",
                    Type::Bool => "boolean",
                };
                let schema = if a.name == "properties" {
                    json!({"type": ty, "contentMediaType": "application/json",
                        "contentSchema": {"$ref": "#/components/schemas/ProfileProperties"}})
                } else {
                    json!({"type": ty})
                };
                (a.name.to_string(), schema)
            })
            .collect();
        let required: Vec<&str> = f
            .args
            .iter()
            .filter(|a| !a.optional)
            .map(|a| a.name)
            .collect();
        let mut responses = errors.clone();
        responses["200"] = answer.clone();
        paths.insert(
            format!("/api/invoke/{}", f.name),
            json!({"post": {
                "operationId": f.name,
                "summary": f.description,
                "x-long-running": matches!(f.run, Run::Long(_)),
                "requestBody": {"required": false, "content": {"application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": props, "required": required}}}},
                "responses": responses,
            }}),
        );
    }
    paths.insert(
        "/api/get-status".into(),
        json!({"post": {
            "operationId": "get-status",
            "summary": "Status of a long-running function; waits up to millisecondsTimeout for a newer statusVersion.",
            "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object", "required": ["token"], "properties": {
                    "token": {"type": "string"},
                    "lastKnownStatusVersion": {"type": "integer"},
                    "millisecondsTimeout": {"type": "integer", "maximum": 60000}}}}}},
            "responses": {"200": answer.clone(), "404": {"description": "no such token"}},
        }}),
    );
    paths.insert(
        "/api/cancel-async".into(),
        json!({"post": {
            "operationId": "cancel-async",
            "summary": "Cancel a long-running function by its token (it stops at its next safe point).",
            "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}}}},
            "responses": {"200": answer, "404": {"description": "no such token"}},
        }}),
    );
    paths.insert(
        "/api/get-metadata".into(),
        json!({"post": {"operationId": "get-metadata",
            "summary": "Every function with its arguments: a bare JSON array, as MailStore answers it.",
            "responses": {"200": {"description": "the functions", "content": {"application/json": {"schema": {
                "type": "array", "items": {"type": "object", "required": ["name", "args"], "properties": {
                    "name": {"type": "string"}, "description": {"type": "string"},
                    "args": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "type": {"type": "string"}, "nullable": {"type": "boolean"}}}},
                    "longRunning": {"type": "boolean"}}}}}}}}}}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Arkiv Administration API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "MailStore Server's Administration API (manual §7.1): POST form-urlencoded arguments, HTTP Basic authentication of an administrator, a JSON envelope."
        },
        "security": [{"basic": []}],
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "session": {"type": "http", "scheme": "bearer", "description": "The token of POST /api/v1/session (or its cookie arkiv_session with the X-Arkiv-CSRF header on POST and DELETE)."}
            },
            "schemas": {"Envelope": envelope, "ProfileProperties": super::profiles::properties_schema()}
        },
        "paths": paths,
    })
}
