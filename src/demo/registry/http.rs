//! The HTTP face of the simulated registry: routes, request parsing and validation the way
//! `mlflow/server/handlers.py` does it (`_get_request_message`, `_validate_param_against_schema`,
//! `catch_mlflow_exception`), and responses as `message_to_json` renders them.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Map, Value};

use super::search::{self, Clause, Key};
use super::state::{self, Model, NewVersion, Version};
use super::{BASE_PATH, Registry, RegistryError};

pub(crate) fn router(registry: Registry) -> Router {
    let p = |path: &str| format!("{BASE_PATH}/{path}");
    Router::new()
        .route(&p("registered-models/get"), get(get_registered_model))
        .route(
            &p("registered-models/search"),
            get(search_registered_models),
        )
        .route(&p("model-versions/get"), get(get_model_version))
        .route(&p("model-versions/search"), get(search_model_versions))
        .route(&p("model-versions/create"), post(create_model_version))
        .route(
            &p("registered-models/alias"),
            get(get_model_version_by_alias)
                .post(set_registered_model_alias)
                .delete(delete_registered_model_alias),
        )
        .route(&p("runs/get"), get(get_run))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            registry.clone(),
            count_writes,
        ))
        .fallback(not_found)
        .with_state(registry)
}

/// Flask's (werkzeug's) HTML pages: routing errors are not API errors and are not JSON.
fn html(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=en>\n<title>{} {title}</title>\n<h1>{title}</h1>\n<p>{text}</p>\n",
        status.as_u16()
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "Not Found",
        "The requested URL was not found on the server. If you entered the URL manually please \
         check your spelling and try again.",
    )
}

async fn method_not_allowed() -> Response {
    html(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        "The method is not allowed for the requested URL.",
    )
}

async fn count_writes(State(registry): State<Registry>, request: Request, next: Next) -> Response {
    if !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        registry.count_write();
    }
    next.run(request).await
}

// ---------------------------------------------------------------------------------------------
// Responses

/// Python's `json.dumps` escapes every non-ASCII character (`ensure_ascii`).
fn ensure_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// A 200 with the message as `message_to_json` renders it (`json.dumps(…, indent=2)`).
fn ok<T: Serialize>(message: &T) -> Response {
    match serde_json::to_string_pretty(message) {
        Ok(body) => (
            [(header::CONTENT_TYPE, "application/json")],
            ensure_ascii(&body),
        )
            .into_response(),
        Err(error) => RegistryError::internal(error.to_string()).into_response(),
    }
}

/// `{}`: the rendering of an empty response message.
fn empty() -> Response {
    ok(&state::Empty {})
}

impl IntoResponse for RegistryError {
    /// `MlflowException.serialize_as_json`: `json.dumps({"error_code": …, "message": …})`.
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // MLflow 3.x adds `sqlstate` and `error_class` after the two classic fields.
        let (sqlstate, error_class) = match self.error_code {
            "RESOURCE_DOES_NOT_EXIST" => ("KAM00", "RESOURCE_NOT_FOUND"),
            "INTERNAL_ERROR" => ("XXM00", "CLIENT_INTERNAL_ERROR"),
            code => ("KAM00", code),
        };
        let body = format!(
            "{{\"error_code\": {}, \"message\": {}, \"sqlstate\": {}, \"error_class\": {}}}",
            Value::String(self.error_code.to_string()),
            Value::String(self.message),
            Value::String(sqlstate.to_string()),
            Value::String(error_class.to_string()),
        );
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            ensure_ascii(&body),
        )
            .into_response()
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// The protobuf type of a request field, for what `ParseDict` accepts.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int64,
    RepeatedStr,
    /// `repeated ModelVersionTag` (`{key, value}` objects).
    RepeatedTag,
}

/// The validators of `handlers.py`.
#[derive(Clone, Copy, PartialEq)]
enum Check {
    Str,
    Required,
    IntLike,
    Array,
    ItemsStr,
    AtMost(i64),
}

impl Check {
    /// The "type" validators are skipped when the proto parsed.
    fn is_type_check(self) -> bool {
        matches!(
            self,
            Check::Str | Check::IntLike | Check::Array | Check::ItemsStr
        )
    }
}

/// A parsed request message: the request JSON (known fields) with the proto's defaults.
struct Message {
    json: Map<String, Value>,
}

impl Message {
    fn str(&self, name: &str) -> String {
        match self.json.get(name) {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        }
    }

    fn int(&self, name: &str, default: i64) -> i64 {
        self.json.get(name).and_then(py_int).unwrap_or(default)
    }

    fn strs(&self, name: &str) -> Vec<String> {
        match self.json.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn tags(&self, name: &str) -> Vec<(String, String)> {
        match self.json.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|t| {
                    let key = t.get("key")?.as_str()?.to_string();
                    let value = t
                        .get("value")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    Some((key, value))
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Python's `int(x)` on a JSON value, as far as a request can need it.
fn py_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::String(s) => {
            let t = s.trim();
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                t.parse().ok()
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Whether protobuf's `ParseDict` accepts `value` for a field of `kind`.
fn parses_as(kind: Kind, value: &Value) -> bool {
    if value.is_null() {
        return true; // null clears the field
    }
    match kind {
        Kind::Str => value.is_string(),
        Kind::Int64 => match value {
            Value::Number(n) => n.is_i64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
            Value::String(s) => !s.contains(' ') && py_int(value).is_some(),
            _ => false,
        },
        Kind::RepeatedStr => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
        Kind::RepeatedTag => value.as_array().is_some_and(|items| {
            items.iter().all(|t| {
                t.as_object().is_some_and(|o| {
                    o.iter()
                        .filter(|(k, _)| *k == "key" || *k == "value")
                        .all(|(_, v)| v.is_string() || v.is_null())
                })
            })
        }),
    }
}

fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `json.dumps(value, sort_keys=True, separators=(",", ":"))`.
fn py_dumps(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_dumps).collect();
            format!("[{}]", inner.join(","))
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), py_dumps(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        other => ensure_ascii(&other.to_string()),
    }
}

fn run_check(check: Check, value: Option<&Value>) -> bool {
    match check {
        Check::Required => value.is_some_and(|v| !v.is_null() && v.as_str() != Some("")),
        Check::Str => value.is_some_and(Value::is_string),
        Check::IntLike => value.is_some_and(|v| match v {
            Value::Number(_) | Value::Bool(_) => true,
            Value::String(_) => py_int(v).is_some(),
            _ => false,
        }),
        Check::Array => value.is_some_and(Value::is_array),
        Check::ItemsStr => match value {
            Some(Value::Array(items)) => items.iter().all(Value::is_string),
            Some(Value::String(_)) => true, // iterating a str yields strs
            _ => false,
        },
        Check::AtMost(max) => value.and_then(py_int).is_some_and(|n| n <= max),
    }
}

/// `_get_request_message`: the request JSON from the query string (GET with arguments) or the
/// body, then the schema checks in declaration order.
fn request_message(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
    fields: &[(&str, Kind)],
    schema: &[(&str, &[Check])],
) -> Result<Message, RegistryError> {
    let args: Vec<(String, String)> = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let mut json = Map::new();
    if *method == Method::GET && !args.is_empty() {
        for &(name, kind) in fields {
            let values: Vec<&String> = args
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v)
                .collect();
            let Some(first) = values.first() else {
                continue;
            };
            let value = match kind {
                Kind::RepeatedStr | Kind::RepeatedTag => {
                    Value::Array(values.iter().map(|v| Value::String((*v).clone())).collect())
                }
                Kind::Str | Kind::Int64 => Value::String((*first).clone()),
            };
            json.insert(name.to_string(), value);
        }
    } else {
        if matches!(*method, Method::POST | Method::PUT) {
            validate_content_type(headers)?;
        }
        // `get_json(force=True, silent=True)`: any body, unparsable means none.
        let mut parsed: Option<Value> = serde_json::from_slice(body).ok();
        // Older clients double-encode the JSON as a string.
        if let Some(Value::String(s)) = &parsed {
            parsed = serde_json::from_str(s).ok();
        }
        if let Some(Value::Object(map)) = parsed {
            json = map;
        }
    }
    let parsed_ok = fields
        .iter()
        .all(|&(name, kind)| json.get(name).is_none_or(|value| parses_as(kind, value)));
    for &(param, checks) in schema {
        if !json.contains_key(param) && !checks.contains(&Check::Required) {
            continue;
        }
        let mut value = json.get(param);
        if param == "run_id" && value.is_none() {
            value = json.get("run_uuid");
        }
        for &check in checks {
            if check.is_type_check() && parsed_ok {
                continue;
            }
            if run_check(check, value) {
                continue;
            }
            let message = if check == Check::Required {
                state::missing_value(param)
            } else {
                let value = value.cloned().unwrap_or(Value::Null);
                format!(
                    "Invalid value {} for parameter '{param}' supplied:  Hint: Value was of \
                     type '{}'.",
                    py_dumps(&value),
                    python_type(&value)
                )
            };
            return Err(RegistryError::invalid(format!(
                "{message} See the API docs for more information about request parameters."
            )));
        }
    }
    Ok(Message { json })
}

/// `_validate_content_type` for POST and PUT.
fn validate_content_type(headers: &HeaderMap) -> Result<(), RegistryError> {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Err(RegistryError::invalid(
            "Bad Request. Content-Type header is missing.",
        ));
    };
    let content_type = content_type.to_str().unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence != "application/json" {
        return Err(RegistryError::invalid(
            "Bad Request. Content-Type must be one of ['application/json'].",
        ));
    }
    Ok(())
}

/// The parts every handler extracts.
struct Incoming {
    method: Method,
    headers: HeaderMap,
    query: Option<String>,
    body: Bytes,
}

impl Incoming {
    fn message(
        &self,
        fields: &[(&str, Kind)],
        schema: &[(&str, &[Check])],
    ) -> Result<Message, RegistryError> {
        request_message(
            &self.method,
            &self.headers,
            self.query.as_deref(),
            &self.body,
            fields,
            schema,
        )
    }
}

fn incoming(method: Method, headers: HeaderMap, query: Option<String>, body: Bytes) -> Incoming {
    Incoming {
        method,
        headers,
        query,
        body,
    }
}

fn respond(result: Result<Response, RegistryError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

const STR_REQUIRED: &[Check] = &[Check::Str, Check::Required];

// ---------------------------------------------------------------------------------------------
// Handlers

#[derive(Serialize)]
struct RegisteredModelResponse<'a> {
    registered_model: state::RegisteredModelJson<'a>,
}

#[derive(Serialize)]
struct RegisteredModelsResponse<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    registered_models: Vec<state::RegisteredModelJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

#[derive(Serialize)]
struct ModelVersionResponse<'a> {
    model_version: state::ModelVersionJson<'a>,
}

#[derive(Serialize)]
struct ModelVersionsResponse<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    model_versions: Vec<state::ModelVersionJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

#[derive(Serialize)]
struct RunResponse<'a> {
    run: state::RunJson<'a>,
}

async fn get_registered_model(
    State(registry): State<Registry>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let req = incoming(method, headers, query, body);
    respond((|| {
        let msg = req.message(&[("name", Kind::Str)], &[("name", STR_REQUIRED)])?;
        let store = registry.store();
        let model = store.model(&msg.str("name"))?;
        Ok(ok(&RegisteredModelResponse {
            registered_model: state::model_json(model),
        }))
    })())
}

const SEARCH_FIELDS: &[(&str, Kind)] = &[
    ("filter", Kind::Str),
    ("max_results", Kind::Int64),
    ("order_by", Kind::RepeatedStr),
    ("page_token", Kind::Str),
];

/// One page of `items` from `page_token` (the store queries `max_results + 1` rows to know
/// whether another page exists).
fn page<T>(
    items: Vec<T>,
    page_token: &str,
    max_results: i64,
) -> Result<(Vec<T>, Option<String>), RegistryError> {
    let offset = search::page_offset(page_token)?;
    let max = usize::try_from(max_results.max(0)).unwrap_or(usize::MAX);
    let mut rest: Vec<T> = items.into_iter().skip(offset).collect();
    let next = (rest.len() > max).then(|| search::page_token(offset + max));
    rest.truncate(max);
    Ok((rest, next))
}

/// Repeating a key in `order_by` is a bare `MlflowException`: a 500.
fn duplicate_order_by(order_by: &[String]) -> RegistryError {
    RegistryError::internal(format!(
        "`order_by` contains duplicate fields: {}",
        search::python_list(order_by)
    ))
}

fn model_matches(model: &Model, clauses: &[Clause]) -> bool {
    clauses.iter().all(|c| match &c.key {
        Key::Attribute(_) => c.matches(Some(&model.name)),
        Key::Tag(key) => c.matches(
            model
                .tags
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str()),
        ),
    })
}

async fn search_registered_models(
    State(registry): State<Registry>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let req = incoming(method, headers, query, body);
    respond((|| {
        let msg = req.message(
            SEARCH_FIELDS,
            &[
                ("filter", &[Check::Str]),
                ("max_results", &[Check::IntLike, Check::AtMost(1000)]),
                ("order_by", &[Check::Array, Check::ItemsStr]),
                ("page_token", &[Check::Str]),
            ],
        )?;
        let max_results = msg.int("max_results", 100);
        let clauses = search::parse_filter(&msg.str("filter"), &["name"])?;
        let order_by = msg.strs("order_by");
        let mut order: Vec<(&str, bool)> = Vec::new();
        for clause in &order_by {
            let (key, ascending) = search::parse_model_order_by(clause)?;
            if order.iter().any(|(k, _)| *k == key) {
                return Err(duplicate_order_by(&order_by));
            }
            order.push((key, ascending));
        }
        if !order.iter().any(|(k, _)| *k == "name") {
            order.push(("name", true));
        }
        let store = registry.store();
        let mut models: Vec<&Model> = store
            .models
            .iter()
            .filter(|m| model_matches(m, &clauses))
            .collect();
        models.sort_by(|a, b| {
            order
                .iter()
                .map(|(key, ascending)| {
                    let ord = if *key == "name" {
                        a.name.cmp(&b.name)
                    } else {
                        a.last_updated_timestamp.cmp(&b.last_updated_timestamp)
                    };
                    if *ascending { ord } else { ord.reverse() }
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let (models, next_page_token) = page(models, &msg.str("page_token"), max_results)?;
        Ok(ok(&RegisteredModelsResponse {
            registered_models: models.into_iter().map(state::model_json).collect(),
            next_page_token,
        }))
    })())
}

async fn get_model_version(
    State(registry): State<Registry>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let req = incoming(method, headers, query, body);
    respond((|| {
        let msg = req.message(
            &[("name", Kind::Str), ("version", Kind::Str)],
            &[("name", STR_REQUIRED), ("version", STR_REQUIRED)],
        )?;
        let store = registry.store();
        let (model, version) = store.model_version(&msg.str("name"), &msg.str("version"))?;
        Ok(ok(&ModelVersionResponse {
            model_version: state::version_json(model, version, true),
        }))
    })())
}

fn version_attribute<'a>(version: &'a Version, key: &str) -> Option<&'a str> {
    match key {
        "run_id" => version.run_id.as_deref(),
        "source_path" => Some(&version.source),
        _ => None,
    }
}

async fn search_model_versions(
    State(registry): State<Registry>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let req = incoming(method, headers, query, body);
    respond((|| {
        let msg = req.message(
            SEARCH_FIELDS,
            &[
                ("filter", &[Check::Str]),
                ("max_results", &[Check::IntLike, Check::AtMost(200_000)]),
                ("order_by", &[Check::Array, Check::ItemsStr]),
                ("page_token", &[Check::Str]),
            ],
        )?;
        let max_results = msg.int("max_results", 200_000);
        if max_results < 1 {
            return Err(RegistryError::invalid(format!(
                "Invalid value for max_results. It must be a positive integer, but got \
                 {max_results}"
            )));
        }
        let clauses = search::parse_filter(
            &msg.str("filter"),
            &["name", "source_path", "run_id", "version_number"],
        )?;
        let mut order_by = msg.strs("order_by");
        if order_by.is_empty() {
            order_by = vec![
                "last_updated_timestamp DESC".to_string(),
                "name ASC".to_string(),
                "version_number DESC".to_string(),
            ];
        }
        let mut order: Vec<(&str, bool)> = Vec::new();
        for clause in &order_by {
            let (key, ascending) = search::parse_version_order_by(clause)?;
            if order.iter().any(|(k, _)| *k == key) {
                return Err(duplicate_order_by(&order_by));
            }
            order.push((key, ascending));
        }
        if !order.iter().any(|(k, _)| *k == "name") {
            order.push(("name", true));
        }
        if !order.iter().any(|(k, _)| *k == "version_number") {
            order.push(("version_number", false));
        }
        let store = registry.store();
        let mut versions: Vec<(&Model, &Version)> = store
            .models
            .iter()
            .flat_map(|m| m.versions.iter().map(move |v| (m, v)))
            .filter(|(m, v)| {
                clauses.iter().all(|c| match &c.key {
                    Key::Attribute(key) if key == "name" => c.matches(Some(&m.name)),
                    Key::Attribute(key) if key == "version_number" => {
                        i64::try_from(v.version).is_ok_and(|n| c.matches_number(n))
                    }
                    Key::Attribute(key) => c.matches(version_attribute(v, key)),
                    Key::Tag(key) => c.matches(
                        v.tags
                            .iter()
                            .find(|(k, _)| k == key)
                            .map(|(_, val)| val.as_str()),
                    ),
                })
            })
            .collect();
        versions.sort_by(|(ma, va), (mb, vb)| {
            order
                .iter()
                .map(|(key, ascending)| {
                    let ord = match *key {
                        "name" => ma.name.cmp(&mb.name),
                        "version_number" => va.version.cmp(&vb.version),
                        "creation_timestamp" => va.creation_timestamp.cmp(&vb.creation_timestamp),
                        _ => va.last_updated_timestamp.cmp(&vb.last_updated_timestamp),
                    };
                    if *ascending { ord } else { ord.reverse() }
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let (versions, next_page_token) = page(versions, &msg.str("page_token"), max_results)?;
        Ok(ok(&ModelVersionsResponse {
            model_versions: versions
                .into_iter()
                .map(|(m, v)| state::version_json(m, v, false))
                .collect(),
            next_page_token,
        }))
    })())
}

/// `is_local_uri`: no scheme, or `file:`.
fn is_local_uri(source: &str) -> bool {
    match url::Url::parse(source) {
        Ok(url) => url.scheme() == "file" || url.scheme().len() == 1, // a Windows drive letter
        Err(_) => true,
    }
}

async fn create_model_version(
    State(registry): State<Registry>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let req = incoming(method, headers, query, body);
    respond((|| {
        let msg = req.message(
            &[
                ("name", Kind::Str),
                ("source", Kind::Str),
                ("run_id", Kind::Str),
                ("tags", Kind::RepeatedTag),
                ("run_link", Kind::Str),
                ("description", Kind::Str),
                ("model_id", Kind::Str),
            ],
            &[
                ("name", STR_REQUIRED),
                ("source", STR_REQUIRED),
                ("run_id", &[Check::Str]),
                ("tags", &[Check::Array]),
                ("run_link", &[Check::Str]),
                ("description", &[Check::Str]),
                ("model_id", &[Check::Str]),
            ],
        )?;
        let source = msg.str("source");
        if is_local_uri(&source) {
            return Err(RegistryError::invalid(format!(
                "Invalid model version source: '{source}'. To use a local path as a model \
                 version source, the run_id request parameter has to be specified and the local \
                 path has to be contained within the artifact directory of the run specified by \
                 the run_id."
            )));
        }
        if source.split('/').any(|part| part == "..") {
            return Err(RegistryError::invalid(format!(
                "Invalid model version source: '{source}'. If supplying a source as an http, \
                 https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute \
                 path must be provided without relative path references present. Please provide \
                 an absolute path."
            )));
        }
        let name = msg.str("name");
        let run_id = msg.str("run_id");
        let now = registry.now();
        let mut store = registry.store();
        // MLflow 3 checks that a run's artifact (`runs:/RUN/…`, `mlflow-artifacts:/…`) comes
        // from the run named by `run_id`.
        let contained = if let Some(rest) = source.strip_prefix("runs:/") {
            let source_run = rest.trim_start_matches('/').split('/').next().unwrap_or("");
            !run_id.is_empty() && source_run == run_id && store.run(&run_id).is_ok()
        } else if source.starts_with("mlflow-artifacts:") {
            store.run(&run_id).is_ok_and(|run| {
                source == run.artifact_uri || source.starts_with(&format!("{}/", run.artifact_uri))
            })
        } else {
            true
        };
        if !contained {
            return Err(RegistryError::invalid(format!(
                "Invalid model version source: '{source}'. The run_id request parameter must \
                 identify the resource that contains the source."
            )));
        }
        let number = store.create_version(
            &name,
            NewVersion {
                source,
                run_id,
                run_link: msg.str("run_link"),
                description: msg.str("description"),
                tags: msg.tags("tags"),
            },
            now,
        )?;
        let (model, version) = store.model_version(&name, &number.to_string())?;
        Ok(ok(&ModelVersionResponse {
            model_version: state::version_json(model, version, true),
        }))
    })())
}

async fn set_registered_model_alias(
    State(registry): State<Registry>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let req = incoming(method, headers, query, body);
    respond((|| {
        let msg = req.message(
            &[
                ("name", Kind::Str),
                ("alias", Kind::Str),
                ("version", Kind::Str),
            ],
            &[
                ("name", STR_REQUIRED),
                ("alias", STR_REQUIRED),
                ("version", STR_REQUIRED),
            ],
        )?;
        let now = registry.now();
        registry.store().set_alias(
            &msg.str("name"),
            &msg.str("alias"),
            &msg.str("version"),
            now,
        )?;
        Ok(empty())
    })())
}

async fn delete_registered_model_alias(
    State(registry): State<Registry>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let req = incoming(method, headers, query, body);
    respond((|| {
        let msg = req.message(
            &[("name", Kind::Str), ("alias", Kind::Str)],
            &[("name", STR_REQUIRED), ("alias", STR_REQUIRED)],
        )?;
        let now = registry.now();
        registry
            .store()
            .delete_alias(&msg.str("name"), &msg.str("alias"), now)?;
        Ok(empty())
    })())
}

async fn get_model_version_by_alias(
    State(registry): State<Registry>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let req = incoming(method, headers, query, body);
    respond((|| {
        let msg = req.message(
            &[("name", Kind::Str), ("alias", Kind::Str)],
            &[("name", STR_REQUIRED), ("alias", STR_REQUIRED)],
        )?;
        let store = registry.store();
        let (model, version) = store.version_by_alias(&msg.str("name"), &msg.str("alias"))?;
        Ok(ok(&ModelVersionResponse {
            model_version: state::version_json(model, version, true),
        }))
    })())
}

async fn get_run(
    State(registry): State<Registry>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let req = incoming(method, headers, query, body);
    respond((|| {
        let msg = req.message(
            &[("run_id", Kind::Str), ("run_uuid", Kind::Str)],
            &[("run_id", &[Check::Required, Check::Str])],
        )?;
        let mut run_id = msg.str("run_id");
        if run_id.is_empty() {
            run_id = msg.str("run_uuid");
        }
        let store = registry.store();
        let run = store.run(&run_id)?;
        Ok(ok(&RunResponse {
            run: state::run_json(run),
        }))
    })())
}
