// rayts_shm: the smallest addon that lets the object store live in /dev/shm.
// It maps a file and hands the mapping to JavaScript as a SharedArrayBuffer (so it can be posted to
// worker threads without a copy). Everything else (allocation, spilling, naming) is in TypeScript.
//
//   create(path, size, prefault) -> SharedArrayBuffer   new file (O_EXCL, mode 0600), MAP_SHARED read/write
//   map(path) -> SharedArrayBuffer                       existing file, MAP_PRIVATE: reads see the owner's
//                                                         writes; our own writes stay private (copy on write)
//   discard(sab) -> undefined                            replaces the pages with anonymous zero pages, so the
//                                                         memory is returned now and stale views read zeros
//   unlink(path) -> undefined
//   alias(sab) -> ArrayBuffer                            the same memory as a plain ArrayBuffer, for the
//                                                         owner's own copies: V8 copies into a
//                                                         SharedArrayBuffer with relaxed atomics (~6 GB/s
//                                                         here) but into an ArrayBuffer with memcpy (~11 GB/s).
//                                                         It keeps the mapping alive while it lives.
// The mapping itself is released (munmap) by the backing store's deleter when the last view is collected.
#include <node.h>
#include <v8.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using v8::ArrayBuffer;
using v8::BackingStore;
using v8::Context;
using v8::Exception;
using v8::FunctionCallbackInfo;
using v8::Isolate;
using v8::Local;
using v8::Object;
using v8::SharedArrayBuffer;
using v8::String;
using v8::Value;

void Throw(Isolate* isolate, const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err);
  isolate->ThrowException(Exception::Error(String::NewFromUtf8(isolate, msg.c_str()).ToLocalChecked()));
}

void Unmap(void* data, size_t length, void* /*deleter_data*/) {
  if (data != nullptr && length > 0) munmap(data, length);
}

void DropRef(void* /*data*/, size_t /*length*/, void* deleter_data) {
  delete static_cast<std::shared_ptr<BackingStore>*>(deleter_data);
}

bool PathArg(const FunctionCallbackInfo<Value>& args, int i, std::string* out) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() <= i || !args[i]->IsString()) {
    isolate->ThrowException(Exception::TypeError(String::NewFromUtf8(isolate, "path must be a string").ToLocalChecked()));
    return false;
  }
  String::Utf8Value s(isolate, args[i]);
  *out = std::string(*s, s.length());
  return true;
}

Local<SharedArrayBuffer> Wrap(Isolate* isolate, void* data, size_t size) {
  std::unique_ptr<BackingStore> store = SharedArrayBuffer::NewBackingStore(data, size, Unmap, nullptr);
  return SharedArrayBuffer::New(isolate, std::move(store));
}

void Create(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  std::string path;
  if (!PathArg(args, 0, &path)) return;
  if (args.Length() < 2 || !args[1]->IsNumber()) {
    isolate->ThrowException(Exception::TypeError(String::NewFromUtf8(isolate, "size must be a number").ToLocalChecked()));
    return;
  }
  double sized = args[1].As<v8::Number>()->Value();
  if (!(sized > 0) || sized > 9007199254740991.0) {
    isolate->ThrowException(Exception::RangeError(String::NewFromUtf8(isolate, "size must be positive").ToLocalChecked()));
    return;
  }
  size_t size = static_cast<size_t>(sized);
  bool prefault = args.Length() > 2 && args[2]->IsTrue();
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Throw(isolate, "open " + path, errno);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int err = errno;
    close(fd);
    unlink(path.c_str());
    return Throw(isolate, "ftruncate " + path, err);
  }
  int flags = MAP_SHARED | (prefault ? MAP_POPULATE : 0);
  void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, fd, 0);
  int err = errno;
  close(fd);
  if (data == MAP_FAILED) {
    unlink(path.c_str());
    return Throw(isolate, "mmap " + path, err);
  }
  args.GetReturnValue().Set(Wrap(isolate, data, size));
}

void Map(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  std::string path;
  if (!PathArg(args, 0, &path)) return;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Throw(isolate, "open " + path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return Throw(isolate, "fstat " + path, err);
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    close(fd);
    return Throw(isolate, "map " + path + " (empty file)", EINVAL);
  }
  void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd);
  if (data == MAP_FAILED) return Throw(isolate, "mmap " + path, err);
  args.GetReturnValue().Set(Wrap(isolate, data, size));
}

void Discard(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsSharedArrayBuffer()) {
    isolate->ThrowException(Exception::TypeError(String::NewFromUtf8(isolate, "expected a SharedArrayBuffer").ToLocalChecked()));
    return;
  }
  std::shared_ptr<BackingStore> store = args[0].As<SharedArrayBuffer>()->GetBackingStore();
  void* data = store->Data();
  size_t size = store->ByteLength();
  if (data == nullptr || size == 0) return;
  void* again = mmap(data, size, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (again == MAP_FAILED) return Throw(isolate, "mmap (discard)", errno);
}

void Alias(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsSharedArrayBuffer()) {
    isolate->ThrowException(Exception::TypeError(String::NewFromUtf8(isolate, "expected a SharedArrayBuffer").ToLocalChecked()));
    return;
  }
  std::shared_ptr<BackingStore> shared = args[0].As<SharedArrayBuffer>()->GetBackingStore();
  auto* keep = new std::shared_ptr<BackingStore>(shared);
  std::unique_ptr<BackingStore> store = ArrayBuffer::NewBackingStore(shared->Data(), shared->ByteLength(), DropRef, keep);
  args.GetReturnValue().Set(ArrayBuffer::New(isolate, std::move(store)));
}

void Unlink(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  std::string path;
  if (!PathArg(args, 0, &path)) return;
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return Throw(isolate, "unlink " + path, errno);
}

}  // namespace

NODE_MODULE_INIT(/* exports, module, context */) {
  NODE_SET_METHOD(exports, "create", Create);
  NODE_SET_METHOD(exports, "map", Map);
  NODE_SET_METHOD(exports, "discard", Discard);
  NODE_SET_METHOD(exports, "unlink", Unlink);
  NODE_SET_METHOD(exports, "alias", Alias);
}
