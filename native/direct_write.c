/*
 * earshot's one piece of native code: write the same message to many sockets in one call.
 *
 * A mixer tick hands one pre-framed WebSocket message to every listener of a call. Through Node's
 * net.Socket each of those writes walks the Writable stream machinery and crosses from JavaScript to
 * C++ once per listener; here the JavaScript side collects the file descriptors of the listeners
 * whose socket has nothing queued in user space, and this function issues one non-blocking send()
 * per descriptor in a tight loop. Whatever the kernel does not take (a partial write, EAGAIN, an
 * error) is reported per descriptor; the caller queues the rest through the socket as usual, so
 * byte order on every socket is preserved and errors surface through Node's own write path.
 *
 * writeAll(fds: Int32Array, count: number, message: Uint8Array, results: Int32Array): number
 *   results[i] = bytes the kernel took for fds[i] (0..length) or -errno; returns how many
 *   descriptors took the whole message.
 *
 * setSendBuffer(fd: number, bytes: number): number
 *   Sets the socket's kernel send buffer (SO_SNDBUF, which Linux doubles and then stops tuning);
 *   returns 0 or -errno. Node has no API for it on TCP sockets. A listener's backlog must show in
 *   user space within seconds of its client stalling (SPEC §3), not after megabytes of autotuned
 *   kernel buffer.
 *
 * tcpUnread(fd: number, out: Int32Array): number
 *   What the kernel knows of bytes written but not yet read by the peer's application, beyond
 *   what is merely in flight: out[0] = bytes not yet sent (tcpi_notsent_bytes), out[1] = the
 *   peer's advertised receive window (tcpi_snd_wnd, Linux 5.4+), which shrinks as the peer's
 *   receive buffer fills with data its application does not read. Returns 0 or -errno (-ENOTSUP
 *   where the kernel does not report the window). A client that stops reading fills its own
 *   receive buffer first (hundreds of KB); only the window shows that, seconds before anything
 *   backs up on this side.
 */
#include <errno.h>
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <string.h>
#ifdef __linux__
#include <linux/tcp.h>
#include <netinet/in.h>
#endif

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: Node ignores SIGPIPE process-wide anyway */
#endif

static napi_value fail(napi_env env, const char* message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static int int32_array(napi_env env, napi_value value, int32_t** data, size_t* length) {
  bool is_typed = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
  if (napi_get_typedarray_info(env, value, &type, length, (void**)data, NULL, NULL) != napi_ok) return 0;
  return type == napi_int32_array;
}

static napi_value write_all(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4)
    return fail(env, "writeAll(fds, count, message, results): 4 arguments expected");

  int32_t* fds;
  int32_t* results;
  size_t fd_length, result_length;
  if (!int32_array(env, argv[0], &fds, &fd_length)) return fail(env, "fds must be an Int32Array");
  if (!int32_array(env, argv[3], &results, &result_length)) return fail(env, "results must be an Int32Array");

  uint32_t count;
  if (napi_get_value_uint32(env, argv[1], &count) != napi_ok) return fail(env, "count must be a number");
  if (count > fd_length || count > result_length) return fail(env, "count exceeds the arrays");

  bool is_typed = false;
  napi_typedarray_type type;
  size_t length;
  void* message;
  if (napi_is_typedarray(env, argv[2], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[2], &type, &length, &message, NULL, NULL) != napi_ok ||
      type != napi_uint8_array)
    return fail(env, "message must be a Uint8Array");
  if (length > INT32_MAX) return fail(env, "message too large");

  int32_t whole = 0;
  for (uint32_t i = 0; i < count; i++) {
    ssize_t n;
    do {
      n = send(fds[i], message, length, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    results[i] = n < 0 ? -errno : (int32_t)n;
    if ((size_t)n == length) whole++;
  }
  napi_value out;
  napi_create_int32(env, whole, &out);
  return out;
}

static napi_value set_send_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return fail(env, "setSendBuffer(fd, bytes): 2 arguments expected");
  int32_t fd, bytes;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return fail(env, "fd must be a number");
  if (napi_get_value_int32(env, argv[1], &bytes) != napi_ok || bytes <= 0)
    return fail(env, "bytes must be a positive number");
  int rc = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  napi_value out;
  napi_create_int32(env, rc < 0 ? -errno : 0, &out);
  return out;
}

static napi_value tcp_unread(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return fail(env, "tcpUnread(fd, out): 2 arguments expected");
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return fail(env, "fd must be a number");
  int32_t* out;
  size_t length;
  if (!int32_array(env, argv[1], &out, &length) || length < 2)
    return fail(env, "out must be an Int32Array of 2");
  int rc = -ENOTSUP;
#ifdef __linux__
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  memset(&ti, 0, sizeof ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) rc = -errno;
  else if (len < offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof ti.tcpi_snd_wnd) rc = -ENOTSUP;
  else {
    out[0] = (int32_t)(ti.tcpi_notsent_bytes > INT32_MAX ? INT32_MAX : ti.tcpi_notsent_bytes);
    out[1] = (int32_t)(ti.tcpi_snd_wnd > INT32_MAX ? INT32_MAX : ti.tcpi_snd_wnd);
    rc = 0;
  }
#endif
  napi_value result;
  napi_create_int32(env, rc, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "writeAll", NAPI_AUTO_LENGTH, write_all, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "writeAll", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "setSendBuffer", NAPI_AUTO_LENGTH, set_send_buffer, NULL, &fn) != napi_ok)
    return NULL;
  if (napi_set_named_property(env, exports, "setSendBuffer", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "tcpUnread", NAPI_AUTO_LENGTH, tcp_unread, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "tcpUnread", fn) != napi_ok) return NULL;
  return exports;
}
