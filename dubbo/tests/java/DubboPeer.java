import com.caucho.hessian.io.Hessian2Input;
import com.caucho.hessian.io.Hessian2Output;
import com.example.User;

import java.io.*;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.*;

/**
 * A dubbo:// peer whose every Hessian byte comes from Caucho's implementation, framed the way
 * Dubbo's ExchangeCodec frames it.
 *
 *   java DubboPeer call PORT   call the zkdubbo provider on 127.0.0.1:PORT; print "<case>\t<result>"
 *   java DubboPeer serve       serve DemoService on a free port; print "port <n>", then serve
 */
public class DubboPeer {
    static final String SERVICE = "org.apache.dubbo.samples.DemoService";
    static long nextId = 1;

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

    static Object call(DataInputStream in, OutputStream out, String method, String desc, Object... args) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        Hessian2Output h = new Hessian2Output(bos);
        h.writeString("2.0.2");
        h.writeString(SERVICE);
        h.writeString((String) null);
        h.writeString(method);
        h.writeString(desc);
        for (Object a : args) h.writeObject(a);
        Map<String, String> att = new HashMap<>();
        att.put("path", SERVICE);
        att.put("interface", SERVICE);
        att.put("timeout", "3000");
        if (method.equals("$invoke")) att.put("generic", "true");
        h.writeObject(att);
        h.flush();
        out.write(frame(nextId++, 0xc2, 0, bos.toByteArray()));
        out.flush();
        byte[][] f = readFrame(in);
        int status = f[0][3];
        Hessian2Input r = new Hessian2Input(new ByteArrayInputStream(f[1]));
        if (status != 20) return "status " + status + ": " + r.readString();
        int flag = r.readInt();
        String v = (flag == 0 || flag == 3) ? "threw " + r.readObject() : (flag == 2 || flag == 5) ? "null" : show(r.readObject());
        if (flag >= 3) v = v + " attachments=" + show(r.readObject());
        return v;
    }

    static String show(Object o) {
        if (o instanceof User u) return "User(" + u.name + "," + u.age + "," + u.tags + "," + (u.created == null ? null : u.created.getTime()) + ")";
        if (o instanceof Map<?, ?> m) return new TreeMap<>(m).toString();
        return String.valueOf(o);
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("call")) {
            try (Socket s = new Socket("127.0.0.1", Integer.parseInt(args[1]))) {
                DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
                OutputStream out = s.getOutputStream();
                System.out.println("sayHello\t" + show(call(in, out, "sayHello", "Ljava/lang/String;", "Ada \ud83d\ude00")));
                System.out.println("add\t" + show(call(in, out, "add", "II", 2, 40)));
                User u = new User("Bob", 7, new ArrayList<>(List.of("x", "y")), new Date(1_700_000_000_000L));
                System.out.println("echo\t" + show(call(in, out, "echo", "Ljava/lang/Object;", u)));
                System.out.println("getUser\t" + show(call(in, out, "getUser", "Ljava/lang/String;", "Ada")));
                System.out.println("throws\t" + show(call(in, out, "getUser", "Ljava/lang/String;", "")));
                System.out.println("generic\t" + show(call(in, out, "$invoke", "Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;",
                    "add", new String[] {"int", "int"}, new Object[] {5, 6})));
                // A heartbeat.
                out.write(frame(nextId++, 0xe2, 0, new byte[] {'N'}));
                out.flush();
                byte[][] hb = readFrame(in);
                System.out.println("heartbeat\t" + Integer.toHexString(hb[0][2] & 0xff) + " " + hb[0][3]);
            }
            return;
        }
        try (ServerSocket ss = new ServerSocket(0)) {
            System.out.println("port " + ss.getLocalPort());
            System.out.flush();
            while (true) {
                Socket s = ss.accept();
                new Thread(() -> serve(s)).start();
            }
        }
    }

    static void serve(Socket s) {
        try (s) {
            DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
            OutputStream out = s.getOutputStream();
            while (true) {
                byte[][] f = readFrame(in);
                long id = ByteBuffer.wrap(f[0], 4, 8).getLong();
                if ((f[0][2] & 0x20) != 0) { // heartbeat
                    out.write(frame(id, 0x22, 20, new byte[] {'N'}));
                    out.flush();
                    continue;
                }
                Hessian2Input r = new Hessian2Input(new ByteArrayInputStream(f[1]));
                String version = r.readString();
                String path = r.readString();
                r.readObject(); // service version
                String method = r.readString();
                String desc = r.readString();
                int n = desc.isEmpty() ? 0 : desc.replaceAll("L[^;]*;", "L").replace("[", "").length();
                Object[] a = new Object[n];
                for (int i = 0; i < n; i++) a[i] = r.readObject();
                Map<?, ?> att = (Map<?, ?>) r.readObject();
                ByteArrayOutputStream bos = new ByteArrayOutputStream();
                Hessian2Output h = new Hessian2Output(bos);
                boolean withAtt = "2.0.2".equals(version);
                switch (method) {
                    case "sayHello" -> { h.writeInt(withAtt ? 4 : 1); h.writeObject("Hello, " + a[0] + "!"); }
                    case "add" -> { h.writeInt(withAtt ? 4 : 1); h.writeObject((Integer) a[0] + (Integer) a[1]); }
                    case "getUser" -> {
                        if (((String) a[0]).isEmpty()) {
                            h.writeInt(withAtt ? 3 : 0);
                            h.writeObject(new IllegalStateException("no user", new ArithmeticException("inner")));
                        } else {
                            h.writeInt(withAtt ? 4 : 1);
                            h.writeObject(new User((String) a[0], 36, new ArrayList<>(List.of("java")), new Date(1_700_000_000_000L)));
                        }
                    }
                    case "echo" -> { h.writeInt(withAtt ? 4 : 1); h.writeObject(a[0]); }
                    case "nothing" -> h.writeInt(withAtt ? 5 : 2);
                    default -> { h.writeInt(withAtt ? 3 : 0); h.writeObject(new UnsupportedOperationException(method + " / " + att)); }
                }
                if (withAtt) {
                    Map<String, String> back = new HashMap<>();
                    back.put("dubbo", "2.0.2");
                    back.put("server", "java");
                    h.writeObject(back);
                }
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
