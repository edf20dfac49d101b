// The consumer side of Dubbo 2.7's CuratorZookeeperClient on Debian's Curator 5.4, for
// scale-bench's latency comparison: a CuratorWatcher on a category path that, on every event,
// lists the children again with itself as the watcher (CuratorWatcherImpl.process), and
// reports each list as `seen <children> <epoch microseconds>` on stdout. Exits when stdin
// closes.
//
// Usage: java -cp <classes>:<curator and zookeeper jars> CuratorWatch <connect string> <path>

import java.time.Instant;
import java.util.List;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.CuratorWatcher;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;

public class CuratorWatch {
    public static void main(String[] args) throws Exception {
        String connect = args[0];
        String path = args[1];
        // Dubbo 2.7's settings: RetryNTimes(1, 1000), a 5 s connection timeout.
        CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .retryPolicy(new RetryNTimes(1, 1000))
                .connectionTimeoutMs(5000)
                .sessionTimeoutMs(60000)
                .build();
        client.start();
        client.blockUntilConnected();
        ChildWatcher watcher = new ChildWatcher(client, path);
        report(client.getChildren().usingWatcher(watcher).forPath(path));
        while (System.in.read() >= 0) {
            // Runs until the parent closes stdin.
        }
        client.close();
    }

    static final class ChildWatcher implements CuratorWatcher {
        private final CuratorFramework client;
        private final String path;

        ChildWatcher(CuratorFramework client, String path) {
            this.client = client;
            this.path = path;
        }

        @Override
        public void process(WatchedEvent event) throws Exception {
            // As Dubbo: connection events re-arm nothing; a child event lists again.
            if (event.getType() == Watcher.Event.EventType.None) {
                return;
            }
            report(client.getChildren().usingWatcher(this).forPath(path));
        }
    }

    static synchronized void report(List<String> children) {
        Instant now = Instant.now();
        long micros = now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
        System.out.println("seen " + children.size() + " " + micros);
        System.out.flush();
    }
}
