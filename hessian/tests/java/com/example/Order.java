package com.example;

import java.io.Serializable;
import java.util.Date;
import java.util.List;
import java.util.Map;

/** The "typical request" of the codec benchmark: strings, a list, a map, numbers, a date. */
public class Order implements Serializable {
    public String id;
    public String customer;
    public List<String> items;
    public Map<String, String> attrs;
    public long total;
    public double price;
    public Date created;
}
