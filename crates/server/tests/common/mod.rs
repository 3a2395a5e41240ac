//! What the HTTP end-to-end tests share.
use lantern_service::Fhir;

/// Serves `fhir` (trust off) on 127.0.0.1:<free port> as `lantern serve` would; returns the
/// FHIR base URL.
pub(crate) async fn start(fhir: Fhir) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let identity = lantern_mpi::Mpi::new(fhir.store.clone(), lantern_mpi::model::default_model());
    let state = lantern_server::AppState {
        fhir,
        version: "test".into(),
        security: lantern_server::trust::Security::Disabled,
        identity,
        exports: Default::default(),
    };
    tokio::spawn(lantern_server::serve(listener, state));
    format!("http://{addr}/fhir")
}
