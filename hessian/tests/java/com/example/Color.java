package com.example;

/** An enum of the golden vectors. */
public enum Color { RED, GREEN }
