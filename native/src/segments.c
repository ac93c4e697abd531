// Native half of Wharf's payload store: segment files written with one pwritev + one fdatasync per commit
// window (on a libuv worker thread, so the event loop never waits for the disk), and read back as Buffers that
// view a memory map of the segment, without copying.
//
// Lifetime (why the reference counts): a segment's file descriptor and path live as long as anything uses them:
// the JavaScript handle (until retire), each write in progress, and each mapping still backed by the file. A
// mapping lives while its ArrayBuffer is reachable: payload Buffers cut from it hold it as long as they live (the
// ArrayBuffer's finalizer drops the mapping), and nobody can say when the garbage collector gets to them.
// So deleting a segment (retire with unlink) does not wait for them: every mapping of the segment is first
// detached from the file: its bytes are copied into anonymous memory, which mremap() then moves over the very
// same addresses in one step, so a Buffer viewing them (even one a worker thread is writing from) sees the same
// bytes before and after. The file is then closed and unlinked at once and its disk space comes back; only the
// copy waits for the garbage collector, and it is memory, reported to V8 as external memory so that it collects
// sooner. All counts change on the JavaScript thread only (finalizers and async completions run there); worker
// threads touch nothing but fd and iovecs.

#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

typedef struct mapping mapping_t;

typedef struct segment {
  int fd;
  char* path;
  uint32_t refs;     // users of fd and path: 1 until retired, + each mapping, + each write in progress
  uint32_t handles;  // 1 while the JavaScript handle object exists, + 1 while refs > 0: frees the struct at 0
  int retired;       // JavaScript called retire() (or dropped the handle)
  int unlink_on_release;
  size_t map_hint;   // map at least this many bytes, so a growing segment is not remapped per commit
  mapping_t* mappings;  // mappings still backed by the file (a list through mapping.next)
} segment_t;

struct mapping {
  uint8_t* addr;
  size_t length;
  uint32_t refs;
  segment_t* segment;  // NULL once detached: the bytes are an anonymous copy, the file is not used any more
  size_t copied;       // bytes of the anonymous copy (reported to V8 as external memory)
  mapping_t* next;
};

// Counters for tests and metrics: what is still held (a leak shows up here).
static int64_t g_segments_open = 0;
static int64_t g_mappings = 0;
static int64_t g_mapped_bytes = 0;
static int64_t g_detached = 0;
static size_t g_page_size = 4096;
// Marks the externals this addon made, so a foreign external passed as a handle is refused, not dereferenced.
static const napi_type_tag SEGMENT_TAG = {0x7768617266736567ULL, 0x6d656e7473763031ULL};

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "ERR_WHARF_NAPI", "Node-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value throw_errno(napi_env env, const char* what, const char* path, int err) {
  char message[512];
  snprintf(message, sizeof message, "%s %s: %s", what, path ? path : "", strerror(err));
  napi_value code, msg, error;
  const char* name = err == ENOSPC ? "ENOSPC" : err == EDQUOT ? "EDQUOT" : err == ENOENT ? "ENOENT" : err == EIO ? "EIO" : "ESYSCALL";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_value errno_value;
  napi_create_int32(env, err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_throw(env, error);
  return NULL;
}

static void segment_free_struct(segment_t* s) {
  if (--s->handles == 0) free(s);
}

static void segment_unref(segment_t* s) {
  if (--s->refs > 0) return;
  close(s->fd);
  s->fd = -1;
  if (s->unlink_on_release) unlink(s->path);
  free(s->path);
  s->path = NULL;
  g_segments_open--;
  segment_free_struct(s);
}

static void mapping_unlink_from(segment_t* s, mapping_t* m) {
  for (mapping_t** p = &s->mappings; *p != NULL; p = &(*p)->next) {
    if (*p == m) {
      *p = m->next;
      return;
    }
  }
}

static void mapping_unref(napi_env env, mapping_t* m) {
  if (--m->refs > 0) return;
  munmap(m->addr, m->length);
  g_mappings--;
  g_mapped_bytes -= (int64_t)m->length;
  if (m->segment != NULL) {
    mapping_unlink_from(m->segment, m);
    segment_unref(m->segment);
  } else {
    g_detached--;
    int64_t ignored;
    if (env != NULL && m->copied > 0) napi_adjust_external_memory(env, -(int64_t)m->copied, &ignored);
  }
  free(m);
}

#ifdef __linux__
// Replaces a file-backed mapping by an anonymous copy at the same addresses. mremap() with MREMAP_FIXED unmaps
// the target and moves the copy's pages there under the address-space lock: a thread touching the range meanwhile
// waits for it and finds the copy, never a hole. Pages past the end of the file are not copied (touching them in
// the file mapping would raise SIGBUS); in the copy they are zeroes nobody reads.
static int mapping_detach(napi_env env, mapping_t* m, size_t file_size) {
  size_t copy_bytes = file_size < m->length ? file_size : m->length;
  void* copy = mmap(NULL, m->length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (copy == MAP_FAILED) return errno;
  memcpy(copy, m->addr, copy_bytes);
  void* moved = mremap(copy, m->length, m->length, MREMAP_MAYMOVE | MREMAP_FIXED, m->addr);
  if (moved == MAP_FAILED) {
    int err = errno;
    munmap(copy, m->length);
    return err;
  }
  segment_t* s = m->segment;
  mapping_unlink_from(s, m);
  m->segment = NULL;
  m->copied = copy_bytes;
  g_detached++;
  int64_t ignored;
  if (copy_bytes > 0) napi_adjust_external_memory(env, (int64_t)copy_bytes, &ignored);
  segment_unref(s);
  return 0;
}
#endif

/**
 * Detaches every mapping of `s` from its file; false if one could not be (out of memory, not Linux): that one
 * keeps the file until its Buffers are collected, as before.
 */
static int segment_detach_mappings(napi_env env, segment_t* s) {
#ifdef __linux__
  off_t end = lseek(s->fd, 0, SEEK_END);
  if (end < 0) return 0;
  int all = 1;
  mapping_t* m = s->mappings;
  while (m != NULL) {
    mapping_t* next = m->next;
    if (mapping_detach(env, m, (size_t)end) != 0) all = 0;
    m = next;
  }
  return all;
#else
  (void)env;
  return s->mappings == NULL;
#endif
}

static void segment_retire(napi_env env, segment_t* s, int unlink_file) {
  if (s->retired) return;
  s->retired = 1;
  if (unlink_file) {
    // The disk space comes back now, not when the garbage collector finds the last Buffer viewing the file: with
    // the mappings detached, only a write in progress still holds the descriptor (and then only until it ends).
    if (env != NULL && segment_detach_mappings(env, s)) unlink(s->path);
    else s->unlink_on_release = 1;
  }
  segment_unref(s);  // the "not retired" reference
}

static void finalize_segment_handle(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  segment_t* s = data;
  s->handles--;  // the handle object's share; while refs > 0 their share keeps the struct
  if (!s->retired) segment_retire(NULL, s, 0);  // dropped without retire(): keep the file
  else if (s->handles == 0) free(s);
}

// ---- argument helpers ------------------------------------------------------------------------------------

static segment_t* get_segment(napi_env env, napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a segment handle from open()");
    return NULL;
  }
  bool ours = false;
  if (napi_check_object_type_tag(env, value, &SEGMENT_TAG, &ours) != napi_ok || !ours) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a segment handle from open()");
    return NULL;
  }
  void* data;
  if (napi_get_value_external(env, value, &data) != napi_ok) return NULL;
  segment_t* s = (segment_t*)data;
  if (s->retired) {
    napi_throw_error(env, "ERR_WHARF_SEGMENT_RETIRED", "the segment was retired");
    return NULL;
  }
  return s;
}

/** A non-negative integer below 2^53; -1 (with an exception pending) otherwise. */
static int64_t get_offset(napi_env env, napi_value value, const char* name) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0 || d != (double)(int64_t)d) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a non-negative integer", name);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return -1;
  }
  return (int64_t)d;
}

static char* get_path(napi_env env, napi_value value) {
  size_t length;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok || length == 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "path must be a non-empty string");
    return NULL;
  }
  char* path = malloc(length + 1);
  if (path == NULL) return NULL;
  napi_get_value_string_utf8(env, value, path, length + 1, &length);
  return path;
}

// ---- open(path, create, mapHintBytes) -> handle -------------------------------------------------------------

static napi_value segment_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "open(path, create, mapHintBytes)");
    return NULL;
  }
  char* path = get_path(env, argv[0]);
  if (path == NULL) return NULL;
  bool create = false;
  napi_get_value_bool(env, argv[1], &create);
  int64_t hint = get_offset(env, argv[2], "mapHintBytes");
  if (hint < 0) {
    free(path);
    return NULL;
  }
  // O_EXCL on create: a segment number is never reused, so an existing file means two writers.
  int fd = open(path, create ? O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC : O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    throw_errno(env, create ? "cannot create segment" : "cannot open segment", path, err);
    free(path);
    return NULL;
  }
  segment_t* s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    free(path);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  s->fd = fd;
  s->path = path;
  s->refs = 1;
  s->handles = 2;
  s->map_hint = (size_t)hint;
  g_segments_open++;
  napi_value handle;
  if (napi_create_external(env, s, finalize_segment_handle, NULL, &handle) != napi_ok) {
    close(fd);
    free(path);
    free(s);
    g_segments_open--;
    napi_throw_error(env, "ERR_WHARF_NAPI", "cannot create the segment handle");
    return NULL;
  }
  if (napi_type_tag_object(env, handle, &SEGMENT_TAG) != napi_ok) {
    segment_retire(env, s, 0);  // the handle's finalizer frees the struct
    napi_throw_error(env, "ERR_WHARF_NAPI", "cannot tag the segment handle");
    return NULL;
  }
  return handle;
}

// ---- size(handle) -> bytes -----------------------------------------------------------------------------------

static napi_value segment_size(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  segment_t* s = argc < 1 ? NULL : get_segment(env, argv[0]);
  if (s == NULL) return NULL;
  // lseek rather than fstat: glibc 2.33 turned fstat into a new versioned symbol, and prebuilt binaries using it
  // would not load on older systems (Raspberry Pi OS Bullseye has glibc 2.31). The offset is never used for I/O.
  off_t end = lseek(s->fd, 0, SEEK_END);
  if (end < 0) return throw_errno(env, "cannot find the end of segment", s->path, errno);
  napi_value result;
  CHECK(napi_create_double(env, (double)end, &result));
  return result;
}

// ---- map(handle, length) -> ArrayBuffer over the mapped file ---------------------------------------------------

// One external ArrayBuffer per mapping, not one per payload: JavaScript cuts payload Buffers out of it as plain
// views, which costs no finalizer and no weak handle per read (those made the garbage collector the drain's
// largest cost). The mapping lives while the ArrayBuffer is reachable, i.e. while any payload Buffer cut from it is.
static void finalize_mapping(napi_env env, void* data, void* hint) {
  (void)data;
  mapping_unref(env, (mapping_t*)hint);
}

static napi_value segment_map(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "map(handle, length)");
    return NULL;
  }
  segment_t* s = get_segment(env, argv[0]);
  if (s == NULL) return NULL;
  int64_t length = get_offset(env, argv[1], "length");
  if (length < 0) return NULL;
  size_t want = (size_t)length > s->map_hint ? (size_t)length : s->map_hint;
  want = (want + g_page_size - 1) / g_page_size * g_page_size;
  if (want == 0) want = g_page_size;
  // Private and writable, though nothing should write: a stray write into a payload Buffer then copies one
  // page instead of killing the process with SIGSEGV, and never reaches the file. Unwritten pages are the page
  // cache's, so reads cost no copy. Flushes never rewrite a block that was written (FLUSH_ALIGN_BYTES), so a
  // mapped page never changes underneath. Pages past the end of the file must not be touched (SIGBUS): the
  // JavaScript side only cuts Buffers out of the durable part.
  void* addr = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE, s->fd, 0);
  if (addr == MAP_FAILED) return throw_errno(env, "cannot map segment", s->path, errno);
  mapping_t* m = calloc(1, sizeof *m);
  if (m == NULL) {
    munmap(addr, want);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  m->addr = addr;
  m->length = want;
  m->refs = 1;  // the ArrayBuffer's
  m->segment = s;
  m->next = s->mappings;
  s->mappings = m;
  s->refs++;
  g_mappings++;
  g_mapped_bytes += (int64_t)want;
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, addr, want, finalize_mapping, m, &buffer) != napi_ok) {
    mapping_unref(env, m);
    napi_throw_error(env, "ERR_WHARF_NAPI", "cannot create an external ArrayBuffer");
    return NULL;
  }
  return buffer;
}

// ---- write(handle, position, buffers, sync) / truncate(handle, length) -> Promise ----------------------------

typedef enum { OP_WRITE, OP_TRUNCATE } io_op;

typedef struct {
  io_op op;
  segment_t* segment;
  int fd;
  int64_t position;  // write: file offset; truncate: new length
  struct iovec* iov;
  int iovcnt;
  int sync;
  napi_ref buffers;  // keeps the Buffers (and so the memory the iovecs point at) alive while the write runs
  napi_deferred deferred;
  napi_async_work work;
  int64_t written;
  int err;
  const char* failed;
} io_task;

static void io_execute(napi_env env, void* data) {
  (void)env;
  io_task* t = data;
  if (t->op == OP_TRUNCATE) {
    if (ftruncate(t->fd, (off_t)t->position) != 0) {
      t->err = errno;
      t->failed = "ftruncate";
      return;
    }
  } else {
    struct iovec* iov = t->iov;
    int left = t->iovcnt;
    off_t position = (off_t)t->position;
    while (left > 0) {
      ssize_t n = pwritev(t->fd, iov, left > IOV_MAX ? IOV_MAX : left, position);
      if (n < 0) {
        if (errno == EINTR) continue;
        t->err = errno;
        t->failed = "pwritev";
        return;
      }
      if (n == 0) {
        t->err = EIO;
        t->failed = "pwritev";
        return;
      }
      position += n;
      t->written += n;
      // A short write (signal, quota) continues where it stopped.
      while (left > 0 && (size_t)n >= iov->iov_len) {
        n -= (ssize_t)iov->iov_len;
        iov++;
        left--;
      }
      if (left > 0 && n > 0) {
        iov->iov_base = (uint8_t*)iov->iov_base + n;
        iov->iov_len -= (size_t)n;
      }
    }
  }
  if (t->sync && fdatasync(t->fd) != 0) {
    t->err = errno;
    t->failed = "fdatasync";
  }
}

static void io_complete(napi_env env, napi_status status, void* data) {
  io_task* t = data;
  napi_value result;
  if (status != napi_ok && t->err == 0) {
    t->err = ECANCELED;
    t->failed = "async work";
  }
  if (t->err != 0) {
    char message[512];
    snprintf(message, sizeof message, "%s %s: %s", t->failed, t->segment->path, strerror(t->err));
    napi_value code, msg, errno_value;
    const char* name = t->err == ENOSPC ? "ENOSPC" : t->err == EDQUOT ? "EDQUOT" : t->err == EIO ? "EIO" : "ESYSCALL";
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &result);
    napi_create_int32(env, t->err, &errno_value);
    napi_set_named_property(env, result, "errno", errno_value);
    napi_reject_deferred(env, t->deferred, result);
  } else {
    napi_create_double(env, (double)t->written, &result);
    napi_resolve_deferred(env, t->deferred, result);
  }
  if (t->buffers != NULL) napi_delete_reference(env, t->buffers);
  napi_delete_async_work(env, t->work);
  segment_unref(t->segment);
  free(t->iov);
  free(t);
}

static napi_value queue_task(napi_env env, io_task* t) {
  napi_value promise, name;
  t->fd = t->segment->fd;
  t->segment->refs++;  // the fd stays open until the task completes, even if the segment is retired meanwhile
  if (napi_create_promise(env, &t->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "wharf:segment-io", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, io_execute, io_complete, t, &t->work) != napi_ok ||
      napi_queue_async_work(env, t->work) != napi_ok) {
    segment_unref(t->segment);
    if (t->buffers != NULL) napi_delete_reference(env, t->buffers);
    free(t->iov);
    free(t);
    napi_throw_error(env, "ERR_WHARF_NAPI", "cannot queue the write");
    return NULL;
  }
  return promise;
}

static napi_value segment_write(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "write(handle, position, buffers, sync)");
    return NULL;
  }
  segment_t* s = get_segment(env, argv[0]);
  if (s == NULL) return NULL;
  int64_t position = get_offset(env, argv[1], "position");
  if (position < 0) return NULL;
  bool is_array = false;
  napi_is_array(env, argv[2], &is_array);
  if (!is_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "buffers must be an array of Buffers");
    return NULL;
  }
  bool sync = false;
  napi_get_value_bool(env, argv[3], &sync);
  uint32_t count;
  CHECK(napi_get_array_length(env, argv[2], &count));
  // A private array of the same Buffers is what the task holds on to: the caller may change its own array
  // while the worker thread writes, but cannot let a Buffer being written be collected.
  napi_value held;
  CHECK(napi_create_array_with_length(env, count, &held));
  io_task* t = calloc(1, sizeof *t);
  struct iovec* iov = calloc(count > 0 ? count : 1, sizeof *iov);
  if (t == NULL || iov == NULL) {
    free(t);
    free(iov);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    bool is_buffer = false;
    if (napi_get_element(env, argv[2], i, &element) != napi_ok || napi_is_buffer(env, element, &is_buffer) != napi_ok ||
        !is_buffer) {
      free(t);
      free(iov);
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "buffers must be an array of Buffers");
      return NULL;
    }
    void* base;
    size_t length;
    if (napi_get_buffer_info(env, element, &base, &length) != napi_ok || napi_set_element(env, held, i, element) != napi_ok) {
      free(t);
      free(iov);
      napi_throw_error(env, "ERR_WHARF_NAPI", "cannot read the buffers");
      return NULL;
    }
    iov[i].iov_base = base;
    iov[i].iov_len = length;
  }
  t->op = OP_WRITE;
  t->segment = s;
  t->position = position;
  t->iov = iov;
  t->iovcnt = (int)count;
  t->sync = sync;
  if (napi_create_reference(env, held, 1, &t->buffers) != napi_ok) {
    free(t);
    free(iov);
    napi_throw_error(env, "ERR_WHARF_NAPI", "cannot hold the buffers");
    return NULL;
  }
  return queue_task(env, t);
}

static napi_value segment_truncate(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "truncate(handle, length)");
    return NULL;
  }
  segment_t* s = get_segment(env, argv[0]);
  if (s == NULL) return NULL;
  int64_t length = get_offset(env, argv[1], "length");
  if (length < 0) return NULL;
  // The JavaScript side drops its mapping first and never cut a Buffer out of the tail (nothing referred to it).
  io_task* t = calloc(1, sizeof *t);
  if (t == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  t->op = OP_TRUNCATE;
  t->segment = s;
  t->position = length;
  t->sync = 1;
  return queue_task(env, t);
}

// ---- retire(handle, unlink) ------------------------------------------------------------------------------------

static napi_value segment_retire_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "retire(handle, unlink)");
    return NULL;
  }
  segment_t* s = get_segment(env, argv[0]);
  if (s == NULL) return NULL;
  bool unlink_file = false;
  napi_get_value_bool(env, argv[1], &unlink_file);
  segment_retire(env, s, unlink_file);
  return NULL;
}

// ---- stats() -> { segments, mappings, mappedBytes, detached } ------------------------------------------

static napi_value segment_stats(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, v;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_double(env, (double)g_segments_open, &v));
  CHECK(napi_set_named_property(env, result, "segments", v));
  CHECK(napi_create_double(env, (double)g_mappings, &v));
  CHECK(napi_set_named_property(env, result, "mappings", v));
  CHECK(napi_create_double(env, (double)g_mapped_bytes, &v));
  CHECK(napi_set_named_property(env, result, "mappedBytes", v));
  CHECK(napi_create_double(env, (double)g_detached, &v));
  CHECK(napi_set_named_property(env, result, "detached", v));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0) g_page_size = (size_t)page;
  napi_property_descriptor props[] = {
      {"open", NULL, segment_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"size", NULL, segment_size, NULL, NULL, NULL, napi_enumerable, NULL},
      {"map", NULL, segment_map, NULL, NULL, NULL, napi_enumerable, NULL},
      {"write", NULL, segment_write, NULL, NULL, NULL, napi_enumerable, NULL},
      {"truncate", NULL, segment_truncate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"retire", NULL, segment_retire_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, segment_stats, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  napi_value page_size;
  CHECK(napi_create_uint32(env, (uint32_t)g_page_size, &page_size));
  CHECK(napi_set_named_property(env, exports, "pageSize", page_size));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
