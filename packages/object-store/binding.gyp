{
  "targets": [
    {
      "target_name": "rayts_shm",
      "sources": ["native/shm.cc"],
      "cflags_cc": ["-O2", "-Wall", "-Wno-cast-function-type"]
    }
  ]
}
