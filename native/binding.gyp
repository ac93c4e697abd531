{
  "targets": [
    {
      "target_name": "wharf_segments",
      "sources": ["src/segments.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["_FILE_OFFSET_BITS=64", "_GNU_SOURCE"]
    }
  ]
}
