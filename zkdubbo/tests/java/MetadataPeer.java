import com.caucho.hessian.io.Hessian2Input;
import com.caucho.hessian.io.Hessian2Output;
import org.apache.dubbo.metadata.MetadataInfo;

import java.io.*;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.*;

/**
 * Dubbo's MetadataService V1 over dubbo:// with Caucho's Hessian and the shape of Dubbo 3.3's
 * MetadataInfo class, framed as Dubbo's ExchangeCodec frames it.
 *
 *   java MetadataPeer call PORT APP REVISION   call getMetadataInfo(REVISION) of APP's
 *                                              MetadataService on 127.0.0.1:PORT; print the
 *                                              MetadataInfo read
 *   java MetadataPeer serve APP PORT            serve APP's MetadataService on a free port,
 *                                              answering with the demo service on PORT;
 *                                              print "port <n>", then serve
 */
public class MetadataPeer {
    static final String SERVICE = "org.apache.dubbo.metadata.MetadataService";

    static byte[] frame(long id, int flags, int status, byte[] body) {
        ByteBuffer b = ByteBuffer.allocate(16 + body.length);
        b.put((byte) 0xda).put((byte) 0xbb).put((byte) flags).put((byte) status).putLong(id).putInt(body.length).put(body);
        return b.array();
    }

    static byte[][] readFrame(DataInputStream in) throws IOException {
        byte[] head = new byte[16];
        in.readFully(head);
        byte[] body = new byte[ByteBuffer.wrap(head, 12, 4).getInt()];
        in.readFully(body);
        return new byte[][] {head, body};
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("call")) {
            try (Socket s = new Socket("127.0.0.1", Integer.parseInt(args[1]))) {
                DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
                OutputStream out = s.getOutputStream();
                ByteArrayOutputStream bos = new ByteArrayOutputStream();
                Hessian2Output h = new Hessian2Output(bos);
                h.writeString("2.0.2");
                h.writeString(SERVICE);
                h.writeString("1.0.0");
                h.writeString("getMetadataInfo");
                h.writeString("Ljava/lang/String;");
                h.writeObject(args[3]);
                Map<String, String> att = new HashMap<>();
                att.put("path", SERVICE);
                att.put("interface", SERVICE);
                att.put("group", args[2]);
                att.put("version", "1.0.0");
                h.writeObject(att);
                h.flush();
                out.write(frame(1, 0xc2, 0, bos.toByteArray()));
                out.flush();
                byte[][] f = readFrame(in);
                Hessian2Input r = new Hessian2Input(new ByteArrayInputStream(f[1]));
                if (f[0][3] != 20) {
                    System.out.println("status " + f[0][3] + ": " + r.readString());
                    return;
                }
                int flag = r.readInt();
                Object v = flag == 2 || flag == 5 ? null : r.readObject();
                if (!(v instanceof MetadataInfo m)) {
                    System.out.println("answer " + v);
                    return;
                }
                System.out.println("app=" + m.getApp());
                System.out.println("revision=" + m.getRevision());
                for (Map.Entry<String, MetadataInfo.ServiceInfo> e : new TreeMap<>(m.getServices()).entrySet()) {
                    System.out.println("service " + e.getKey() + " " + e.getValue());
                }
            }
            return;
        }
        String app = args[1];
        int servicePort = Integer.parseInt(args[2]);
        try (ServerSocket ss = new ServerSocket(0)) {
            System.out.println("port " + ss.getLocalPort());
            System.out.flush();
            while (true) {
                Socket s = ss.accept();
                new Thread(() -> serve(s, app, servicePort)).start();
            }
        }
    }

    static void serve(Socket s, String app, int servicePort) {
        try (s) {
            DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
            OutputStream out = s.getOutputStream();
            while (true) {
                byte[][] f = readFrame(in);
                long id = ByteBuffer.wrap(f[0], 4, 8).getLong();
                if ((f[0][2] & 0x20) != 0) {
                    out.write(frame(id, 0x22, 20, new byte[] {'N'}));
                    out.flush();
                    continue;
                }
                Hessian2Input r = new Hessian2Input(new ByteArrayInputStream(f[1]));
                r.readString();
                String path = r.readString();
                r.readObject();
                String method = r.readString();
                r.readString();
                String revision = (String) r.readObject();
                Map<?, ?> att = (Map<?, ?>) r.readObject();
                ByteArrayOutputStream bos = new ByteArrayOutputStream();
                Hessian2Output h = new Hessian2Output(bos);
                if (!SERVICE.equals(path) || !"getMetadataInfo".equals(method) || !app.equals(att.get("group"))) {
                    h.writeInt(3);
                    h.writeObject(new UnsupportedOperationException(path + "." + method + " " + att));
                } else {
                    String iface = "org.apache.dubbo.samples.DemoService";
                    Map<String, String> params = new HashMap<>();
                    params.put("interface", iface);
                    params.put("application", app);
                    params.put("methods", "add,getUser,sayHello");
                    params.put("weight", "77");
                    params.put("side", "provider");
                    Map<String, MetadataInfo.ServiceInfo> services = new java.util.concurrent.ConcurrentSkipListMap<>();
                    services.put(iface + ":dubbo", new MetadataInfo.ServiceInfo(iface, null, null, "dubbo", servicePort, iface, params));
                    h.writeInt(4);
                    h.writeObject(new MetadataInfo(app, revision, services));
                }
                h.writeObject(Map.of("dubbo", "2.0.2"));
                h.flush();
                out.write(frame(id, 0x02, 20, bos.toByteArray()));
                out.flush();
            }
        } catch (EOFException e) {
            // consumer closed
        } catch (Exception e) {
            e.printStackTrace();
        }
    }
}
