//! Writing queued frames: one task per connection drains its queue into a buffered socket and
//! flushes once per batch, so concurrent calls share system calls.

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

/// Write every frame of `rx` to `w` until the queue closes or a write fails.
pub(crate) async fn write_batched<W: AsyncWrite + Unpin>(w: W, mut rx: mpsc::Receiver<Bytes>) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(64 * 1024, w);
    while let Some(first) = rx.recv().await {
        w.write_all(&first).await?;
        while let Ok(more) = rx.try_recv() {
            w.write_all(&more).await?;
        }
        w.flush().await?;
    }
    Ok(())
}
