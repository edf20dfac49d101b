//! Log lines captured in memory, so a test can check what was warned about.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

/// Install, once per process, a global subscriber that keeps `zkdubbo_registry` debug lines
/// and every warning in memory (no ANSI colours). Call it at the start of a test that reads
/// [`text`].
pub fn capture() {
    buffer();
}

/// Everything captured so far.
pub fn text() -> String {
    String::from_utf8_lossy(&lock(buffer())).into_owned()
}

fn buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("zkdubbo_registry=debug,warn"))
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .try_init();
        buf
    })
}

/// A test that panicked while logging must not hide the logs from the others.
fn lock(buf: &Mutex<Vec<u8>>) -> MutexGuard<'_, Vec<u8>> {
    buf.lock().unwrap_or_else(|e| e.into_inner())
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
