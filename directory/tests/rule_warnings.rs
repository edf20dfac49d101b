//! A routing rule that leaves no provider is obeyed and logged once per change, naming it.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use support::{condition, directory, note, provider, url};
use zkdubbo_common::Invocation;
use zkdubbo_directory::Directory;
use zkdubbo_registry::Category;

fn get() -> Invocation {
    Invocation::new("get")
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process-wide capture of this test binary's logs.
fn capture() -> Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Capture::default();
            let writer = capture.clone();
            tracing::subscriber::set_global_default(
                tracing_subscriber::fmt()
                    .with_writer(move || writer.clone())
                    .with_ansi(false)
                    .finish(),
            )
            .expect("the only subscriber of this test binary");
            capture
        })
        .clone()
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner()))
            .lines()
            .filter(|l| l.contains("leaves no provider") && l.contains(needle))
            .count()
    }
}

#[test]
fn a_rule_that_empties_a_route_is_logged_once_per_change() {
    let capture = capture();

    let (dir, _) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[provider("10.0.0.5", ""), provider("10.0.0.6", "")],
        1,
    ));
    dir.notify(&note(
        Category::Routers,
        &[condition("=> host = 10.9.9.9", "&force=true")],
        1,
    ));
    assert!(dir.list(&get()).is_err(), "the rule is obeyed");
    assert_eq!(capture.count("10.9.9.9"), 1);

    // Another refresh with the same rule in force: not logged again.
    dir.notify(&note(
        Category::Configurators,
        &[url("override://0.0.0.0/com.foo.Bar?category=configurators&weight=7")],
        1,
    ));
    assert_eq!(capture.count("10.9.9.9"), 1);

    // A different emptying rule is logged, naming it.
    dir.notify(&note(
        Category::Routers,
        &[condition("=> host = 10.8.8.8", "&force=true")],
        2,
    ));
    assert_eq!(capture.count("10.8.8.8"), 1);

    // Rules that leave providers are not.
    dir.notify(&note(
        Category::Routers,
        &[condition("=> host = 10.0.0.5", "&force=true")],
        3,
    ));
    assert!(dir.list(&get()).is_ok());
    assert_eq!(capture.count("10.0.0.5"), 0);
}

/// A switch that is neither `true` nor `false` (`force=maybe`) is refused with a warning naming
/// it, and its default used; it used to be replaced without a word.
#[test]
fn a_rule_switch_that_is_not_a_boolean_is_refused_with_a_warning() {
    let capture = capture();
    let (dir, _) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[provider("10.0.0.5", ""), provider("10.0.0.6", "")],
        1,
    ));
    dir.notify(&note(
        Category::Routers,
        &[condition(
            "=> host = 10.0.0.99",
            "&force=maybe-ZKDUBBO&priority=first-ZKDUBBO",
        )],
        1,
    ));
    // force defaults to false: the rule matches no provider, so the full list stays.
    assert_eq!(dir.list(&get()).unwrap().len(), 2);
    let text = capture.text();
    assert!(
        text.lines()
            .any(|l| l.contains("WARN") && l.contains("refusing force=\"maybe-ZKDUBBO\"")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("WARN") && l.contains("refusing priority=\"first-ZKDUBBO\"")),
        "{text}"
    );
}
