import com.caucho.hessian.io.Hessian2Input;
import com.caucho.hessian.io.Hessian2Output;
import com.example.Color;
import com.example.User;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.*;

/**
 * Golden vectors from Caucho's Hessian 2.0 implementation (Debian's libhessian-java).
 *
 *   java Vectors write DIR   writes DIR/<case>.bin, each one value as Caucho writes it
 *   java Vectors read DIR    reads every DIR/*.bin with Caucho and prints "<case>\t<value>"
 *
 * The Rust tests decode what "write" produced, encode the same cases themselves, and compare
 * what "read" prints for both directories.
 */
public class Vectors {
    static Map<String, Object> cases() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("null", null);
        c.put("true", true);
        c.put("false", false);
        int[] ints = {0, -16, 47, -17, 48, -2048, 2047, -2049, 2048, -262144, 262143, -262145, 262144,
            Integer.MIN_VALUE, Integer.MAX_VALUE};
        for (int i : ints) c.put("int_" + i, i);
        long[] longs = {0L, -8L, 15L, -9L, 16L, -2048L, 2047L, -2049L, 2048L, -262144L, 262143L, -262145L,
            262144L, Integer.MIN_VALUE, Integer.MAX_VALUE, Integer.MIN_VALUE - 1L, Integer.MAX_VALUE + 1L,
            Long.MIN_VALUE, Long.MAX_VALUE};
        for (long l : longs) c.put("long_" + l, l);
        double[] doubles = {0.0, 1.0, 127.0, -128.0, 128.0, -129.0, 32767.0, -32768.0, 32768.0, -32769.0, 12.25,
            0.001, -2.5, 3.15, 1.5e300, (double) 3.1f, Double.NaN, Double.POSITIVE_INFINITY, -0.0, 2147483.647,
            2147483.648};
        for (int i = 0; i < doubles.length; i++) c.put("double_" + i, doubles[i]);
        c.put("string_empty", "");
        c.put("string_a", "a");
        c.put("string_31", "x".repeat(31));
        c.put("string_32", "x".repeat(32));
        c.put("string_1023", "y".repeat(1023));
        c.put("string_1024", "y".repeat(1024));
        c.put("string_32768", "z".repeat(32768));
        c.put("string_32769", "z".repeat(32769));
        c.put("string_70000", "w".repeat(70000));
        c.put("string_unicode", "h\u00e9llo \u4e2d\u6587 \ud83d\ude00!");
        c.put("string_emoji_31", "\ud83d\ude00".repeat(15) + "a");
        // A surrogate pair across the 32768-unit chunk boundary: Java shortens the chunk.
        c.put("string_pair_at_chunk", "a".repeat(32767) + "\ud83d\ude00" + "b");
        c.put("binary_0", new byte[0]);
        c.put("binary_15", bytes(15));
        c.put("binary_16", bytes(16));
        c.put("binary_1023", bytes(1023));
        c.put("binary_1024", bytes(1024));
        c.put("binary_4000", bytes(4000));
        c.put("date_minutes", new Date(1_700_000_040_000L));
        c.put("date_ms", new Date(1_700_000_040_123L));
        c.put("date_negative", new Date(-1L));
        c.put("list_ints", new ArrayList<>(List.of(1, 2, 3)));
        c.put("list_nine", new ArrayList<>(List.of("a", "b", "c", "d", "e", "f", "g", "h", "i")));
        c.put("array_int", new int[] {1, 2, 300});
        c.put("array_string", new String[] {"a", null, "c"});
        c.put("array_long_9", new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        c.put("list_empty", new ArrayList<>());
        Map<String, Object> one = new HashMap<>();
        one.put("k", 1);
        c.put("map_hash", one);
        TreeMap<String, Object> tree = new TreeMap<>();
        tree.put("a", 1L);
        tree.put("b", "two");
        c.put("map_tree", tree);
        Map<Object, Object> intKeys = new HashMap<>();
        intKeys.put(7, "seven");
        c.put("map_int_keys", intKeys);
        User ada = new User("Ada", 36, new ArrayList<>(List.of("math", "engines")), new Date(1_700_000_000_000L));
        c.put("pojo", ada);
        User bob = new User("Bob", 7, new ArrayList<>(), null);
        c.put("pojo_list", new ArrayList<>(List.of(ada, bob)));
        c.put("pojo_shared", new ArrayList<>(List.of(ada, ada)));
        ArrayList<Object> self = new ArrayList<>();
        self.add("me");
        self.add(self);
        c.put("list_self", self);
        c.put("enum", Color.GREEN);
        c.put("big_decimal", new BigDecimal("12.50"));
        c.put("big_integer", new java.math.BigInteger("-123456789012345678901234567890"));
        c.put("big_integer_zero", java.math.BigInteger.ZERO);
        c.put("exception", new IllegalArgumentException("bad name"));
        c.put("exception_cause", new IllegalStateException("outer", new ArithmeticException("inner")));
        return c;
    }

    static byte[] bytes(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (i * 7);
        return b;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Paths.get(args[1]);
        if (args[0].equals("write")) {
            Files.createDirectories(dir);
            for (Map.Entry<String, Object> e : cases().entrySet()) {
                ByteArrayOutputStream bos = new ByteArrayOutputStream();
                Hessian2Output out = new Hessian2Output(bos);
                out.writeObject(e.getValue());
                out.flush();
                Files.write(dir.resolve(e.getKey() + ".bin"), bos.toByteArray());
            }
        } else {
            List<Path> files = new ArrayList<>();
            try (var s = Files.list(dir)) { s.forEach(files::add); }
            Collections.sort(files);
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (!name.endsWith(".bin")) continue;
                String text;
                try {
                    Hessian2Input in = new Hessian2Input(new ByteArrayInputStream(Files.readAllBytes(f)));
                    text = describe(in.readObject(), new IdentityHashMap<>());
                } catch (Throwable t) {
                    text = "ERROR " + t;
                }
                System.out.println(name.substring(0, name.length() - 4) + "\t" + text);
            }
        }
    }

    /** A deep, type-revealing rendering that two equal object graphs share. */
    static String describe(Object o, IdentityHashMap<Object, Boolean> seen) {
        if (o == null) return "null";
        if (o instanceof String s) {
            StringBuilder b = new StringBuilder("String(");
            for (int i = 0; i < s.length(); i++) b.append(Integer.toHexString(s.charAt(i))).append(' ');
            return b.append(')').toString();
        }
        if (o instanceof Number || o instanceof Boolean) {
            if (o instanceof Double d) return "Double(" + Long.toHexString(Double.doubleToRawLongBits(d)) + ")";
            return o.getClass().getSimpleName() + "(" + o + ")";
        }
        if (o instanceof Date d) return "Date(" + d.getTime() + ")";
        if (o instanceof Enum<?> e) return e.getClass().getName() + "." + e.name();
        if (o instanceof Throwable t) {
            return t.getClass().getName() + "(" + t.getMessage() + ", cause=" + describe(t.getCause(), seen) + ")";
        }
        if (seen.containsKey(o)) return "<cycle>";
        seen.put(o, true);
        try {
            if (o.getClass().isArray()) {
                StringBuilder b = new StringBuilder(o.getClass().getSimpleName() + "[");
                for (int i = 0; i < Array.getLength(o); i++) b.append(describe(Array.get(o, i), seen)).append(',');
                return b.append(']').toString();
            }
            if (o instanceof List<?> l) {
                StringBuilder b = new StringBuilder("List[");
                for (Object x : l) b.append(describe(x, seen)).append(',');
                return b.append(']').toString();
            }
            if (o instanceof Map<?, ?> m) {
                TreeMap<String, String> sorted = new TreeMap<>();
                for (Map.Entry<?, ?> e : m.entrySet()) sorted.put(describe(e.getKey(), seen), describe(e.getValue(), seen));
                return "Map" + sorted;
            }
            if (o instanceof User u) {
                return "User(" + describe(u.name, seen) + "," + u.age + "," + describe(u.tags, seen) + ","
                    + describe(u.created, seen) + ")";
            }
            return o.getClass().getName() + "(" + o + ")";
        } finally {
            seen.remove(o);
        }
    }
}
