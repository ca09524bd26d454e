//! The OpenAPI 3.1 document, generated from the handlers' annotations, and Swagger UI with its
//! assets embedded in the binary (no network needed to view `/docs`).

use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_swagger_ui::SwaggerUi;

/// The document's fixed parts; paths are added by the routers.
#[derive(OpenApi)]
#[openapi(
    info(title = "atelier", description = "One self-hosted server for visual AI: draw together, 3D photos, classify, detect, detector studio. Errors are `{\"error\": {\"code\", \"message\"}}`; any route may answer 503 `overloaded` or `timeout` under load, and 503 `database-unavailable` (with `Retry-After`) while the database cannot be reached."),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Register, log in, log out, who am I"),
        (name = "families", description = "Families and invitation codes"),
        (name = "uploads", description = "Files in, signed links out"),
        (name = "jobs", description = "Long work: queue, progress, results, cancel"),
        (name = "classify", description = "ImageNet classification with dynamic batching"),
        (name = "detect", description = "Haar/LBP cascade detection, OpenCV-exact"),
        (name = "drawings", description = "Draw together: rooms, live strokes, catch-up, undo, submit, gallery"),
        (name = "littlestudio", description = "LittleStudio's REST API, served as written (compatibility prefix /compat/littlestudio)"),
        (name = "realtime", description = "Pusher Channels protocol: channel auth and the signed HTTP API"),
        (name = "animate", description = "Drawings turned into animated characters (GIF, MP4, sprite sheet)"),
        (name = "photo3d", description = "3D photos: one photo (and optionally its depth map) in, a parallax video, GIF and glTF scene out"),
        (name = "studio", description = "Detector studio: projects, labels, media and frames, annotations (CVAT tracks, undo), training, detectors (and their ONNX download)"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the handlers refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("opaque")
                    .build(),
            ),
        );
    }
}

/// Swagger UI at `/docs`, reading `/openapi.json`.
pub fn swagger_ui(document: utoipa::openapi::OpenApi) -> SwaggerUi {
    SwaggerUi::new("/docs").url("/openapi.json", document)
}
