package org.apache.dubbo.metadata;

import java.io.Serializable;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Dubbo 3.3's MetadataInfo as its Hessian serialization sees it: the same class names, the
 * same serialized fields with their declared types, modifiers and constructors (from
 * dubbo-metadata-api's MetadataInfo.java); the behaviour that does not touch serialization is
 * left out.
 */
public class MetadataInfo implements Serializable {
    private String app;
    private volatile String revision;
    private final Map<String, ServiceInfo> services;
    private transient AtomicBoolean initiated = new AtomicBoolean(false);
    private transient volatile String rawMetadataInfo;
    protected transient volatile boolean updated = false;

    public MetadataInfo() {
        this(null);
    }

    public MetadataInfo(String app) {
        this(app, null, null);
    }

    public MetadataInfo(String app, String revision, Map<String, ServiceInfo> services) {
        this.app = app;
        this.revision = revision;
        this.services = services == null ? new ConcurrentSkipListMap<>() : services;
    }

    public String getApp() { return app; }
    public String getRevision() { return revision; }
    public Map<String, ServiceInfo> getServices() { return services; }

    public static class ServiceInfo implements Serializable {
        private String name;
        private String group;
        private String version;
        private String protocol;
        private int port = -1;
        private String path;
        private Map<String, String> params;
        private transient volatile String serviceKey;
        private transient volatile String matchKey;

        public ServiceInfo() {}

        public ServiceInfo(String name, String group, String version, String protocol, int port, String path, Map<String, String> params) {
            this.name = name;
            this.group = group;
            this.version = version;
            this.protocol = protocol;
            this.port = port;
            this.path = path;
            this.params = params;
        }

        @Override
        public String toString() {
            return "name=" + name + " group=" + group + " version=" + version + " protocol=" + protocol
                + " port=" + port + " path=" + path + " params=" + new java.util.TreeMap<>(params);
        }
    }
}
