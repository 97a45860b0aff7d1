{
  "targets": [
    {
      "target_name": "earshot_direct_write",
      "sources": ["native/direct_write.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
