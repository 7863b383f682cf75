//! Runs the backend conformance suite on a SQLite file in a temporary directory.

use std::sync::Arc;

use keystead_store::Store;
use keystead_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("keystead.db");
    keystead_store::conformance::run(|| {
        let path = path.clone();
        async move {
            let store = SqliteStore::open(&path).expect("open the conformance database");
            Arc::new(store) as Arc<dyn Store>
        }
    })
    .await;
}
