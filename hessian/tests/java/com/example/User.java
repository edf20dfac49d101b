package com.example;

import java.io.Serializable;
import java.util.Date;
import java.util.List;

/** The POJO of the golden vectors (and of the dubbo:// examples). */
public class User implements Serializable {
    public String name;
    public int age;
    public List<String> tags;
    public Date created;

    public User() {}

    public User(String name, int age, List<String> tags, Date created) {
        this.name = name;
        this.age = age;
        this.tags = tags;
        this.created = created;
    }
}
