// Curator 5.4's x-discovery (Debian's libcurator-discovery-java) on the formats of Dubbo 3's
// application-level discovery, for zkdubbo-discovery's tests:
//
//   write <app> <address> <port> <registrationTimeUTC> [key=value...]
//       prints the instance node JSON Curator writes (Dubbo's ZookeeperInstance payload)
//   read
//       reads an instance node JSON on stdin with Curator's serializer; prints
//       name, id, address, port, then the metadata as key=value lines, sorted
//   revision
//       reads "app <name>" then "service <matchKey> <port> <path>" / "param <k> <v>" lines
//       (tab-separated) on stdin; prints the revision as Dubbo's MetadataInfo computes it:
//       MD5 hex of app + for each service in TreeMap order, matchKey + port + path +
//       new TreeMap<>(params).toString()

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Map;
import java.util.TreeMap;

import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.apache.dubbo.registry.zookeeper.ZookeeperInstance;

public class DiscoveryPeer {
    public static void main(String[] args) throws Exception {
        JsonInstanceSerializer<ZookeeperInstance> serializer = new JsonInstanceSerializer<>(ZookeeperInstance.class);
        switch (args[0]) {
            case "write": {
                String app = args[1], address = args[2];
                int port = Integer.parseInt(args[3]);
                Map<String, String> metadata = new TreeMap<>();
                for (int i = 5; i < args.length; i++) {
                    int eq = args[i].indexOf('=');
                    metadata.put(args[i].substring(0, eq), args[i].substring(eq + 1));
                }
                String id = address + ":" + port;
                ServiceInstance<ZookeeperInstance> instance = ServiceInstance.<ZookeeperInstance>builder()
                        .id(id).name(app).address(address).port(port)
                        .payload(new ZookeeperInstance(id, app, metadata))
                        .registrationTimeUTC(Long.parseLong(args[4]))
                        .build();
                System.out.print(new String(serializer.serialize(instance), StandardCharsets.UTF_8));
                break;
            }
            case "read": {
                byte[] data = System.in.readAllBytes();
                ServiceInstance<ZookeeperInstance> instance = serializer.deserialize(data);
                StringBuilder out = new StringBuilder();
                out.append(instance.getName()).append('\n').append(instance.getId()).append('\n')
                        .append(instance.getAddress()).append('\n').append(instance.getPort()).append('\n');
                for (Map.Entry<String, String> e : new TreeMap<>(instance.getPayload().getMetadata()).entrySet()) {
                    out.append(e.getKey()).append('=').append(e.getValue()).append('\n');
                }
                System.out.print(out);
                break;
            }
            case "revision": {
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                String app = null;
                TreeMap<String, String[]> services = new TreeMap<>();
                TreeMap<String, TreeMap<String, String>> params = new TreeMap<>();
                String current = null;
                for (String line; (line = in.readLine()) != null; ) {
                    String[] f = line.split("\t", -1);
                    if (f[0].equals("app")) {
                        app = f[1];
                    } else if (f[0].equals("service")) {
                        current = f[1];
                        services.put(current, new String[] {f[2], f[3]});
                        params.put(current, new TreeMap<>());
                    } else if (f[0].equals("param")) {
                        params.get(current).put(f[1], f[2]);
                    }
                }
                StringBuilder sb = new StringBuilder();
                sb.append(app);
                for (Map.Entry<String, String[]> e : services.entrySet()) {
                    sb.append(e.getKey() + Integer.parseInt(e.getValue()[0]) + e.getValue()[1] + params.get(e.getKey()));
                }
                byte[] md5 = MessageDigest.getInstance("MD5").digest(sb.toString().getBytes(StandardCharsets.UTF_8));
                StringBuilder hex = new StringBuilder();
                for (byte b : md5) {
                    hex.append(String.format("%02x", b));
                }
                System.out.print(hex);
                break;
            }
            default:
                throw new IllegalArgumentException(args[0]);
        }
    }
}
