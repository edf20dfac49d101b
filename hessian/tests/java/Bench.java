import com.caucho.hessian.io.Hessian2Input;
import com.caucho.hessian.io.Hessian2Output;
import com.example.Order;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.*;

/**
 * Caucho's side of the codec benchmark (hessian/benches/codec.rs runs it in the same run):
 * prints "case<TAB>encode|decode<TAB>ns per object graph<TAB>bytes".
 */
public class Bench {
    static Order order(int i) {
        Order o = new Order();
        o.id = "order-" + i;
        o.customer = "customer-" + (i % 97) + "@example.com";
        o.items = new ArrayList<>(List.of("sku-1001", "sku-2002", "sku-3003"));
        o.attrs = new HashMap<>();
        o.attrs.put("channel", "web");
        o.attrs.put("region", "eu-west");
        o.total = 123_456L + i;
        o.price = 99.95;
        o.created = new Date(1_700_000_000_000L + i);
        return o;
    }

    static byte[] encode(Object o) throws Exception {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        Hessian2Output out = new Hessian2Output(bos);
        out.writeObject(o);
        out.flush();
        return bos.toByteArray();
    }

    static Object decode(byte[] b) throws Exception {
        return new Hessian2Input(new ByteArrayInputStream(b)).readObject();
    }

    static void measure(String name, Object value, long millis) throws Exception {
        byte[] bytes = encode(value);
        for (String op : new String[] {"encode", "decode"}) {
            // warm up, then time
            long n = 0;
            long sink = 0;
            for (int pass = 0; pass < 2; pass++) {
                long start = System.nanoTime();
                n = 0;
                while (System.nanoTime() - start < millis * 1_000_000L) {
                    for (int k = 0; k < 16; k++) {
                        sink += op.equals("encode") ? encode(value).length : (decode(bytes) == null ? 0 : 1);
                    }
                    n += 16;
                }
                if (pass == 1) {
                    double ns = (System.nanoTime() - start) / (double) n;
                    System.out.println(name + "\t" + op + "\t" + ns + "\t" + bytes.length + "\t" + (sink == 42 ? "" : ""));
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        long millis = Long.parseLong(args[0]);
        measure("order", order(1), millis);
        List<Order> orders = new ArrayList<>();
        for (int i = 0; i < 1000; i++) orders.add(order(i));
        measure("orders_1000", orders, millis);
    }
}
