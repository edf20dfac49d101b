// Dubbo 3.3's ZookeeperInstance (dubbo-registry-zookeeper), field for field: the payload
// class Curator names in an instance node's JSON and casts to on read. Java Dubbo itself
// does not install here (no Maven); this is its shape, for the tests' Curator.
package org.apache.dubbo.registry.zookeeper;
import java.util.HashMap;
import java.util.Map;
public class ZookeeperInstance {
    private String id;
    private String name;
    private Map<String, String> metadata = new HashMap<>();
    @SuppressWarnings("unused")
    private ZookeeperInstance() {}
    public ZookeeperInstance(String id, String name, Map<String, String> metadata) { this.id = id; this.name = name; this.metadata = metadata; }
    public String getId() { return id; }
    public String getName() { return name; }
    public void setId(String id) { this.id = id; }
    public void setName(String name) { this.name = name; }
    public Map<String, String> getMetadata() { return metadata; }
    public void setMetadata(Map<String, String> m) { this.metadata = m; }
}
