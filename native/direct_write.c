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
 *
 * socketPair(out: Int32Array): number
 *   A SOCK_SEQPACKET Unix socket pair (close-on-exec) in out[0], out[1]; 0 or -errno. The control
 *   plane keeps one end per media worker and gives the worker the other as an inherited fd.
 *
 * sendFds(fd: number, fds: Int32Array, count: number): number
 *   Sends `count` (1–250) descriptors in one SCM_RIGHTS record, without blocking; 0 or -errno.
 *   Node passes one handle per IPC message and waits for the child's acknowledgement before the
 *   next, i.e. one socket per turn of the worker's event loop (~100/s under load): a storm of
 *   listeners queued for tens of seconds. One record carries a whole turn's sockets.
 *
 * receiveFds(fd: number, out: Int32Array): number
 *   Receives one such record without blocking: its descriptors (close-on-exec) into out; returns
 *   how many, or -errno (-EAGAIN: none waiting).
 *
 * closeFd(fd: number): number
 *   close(2); 0 or -errno.
 */
#include <errno.h>
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <string.h>
#include <unistd.h>
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

static napi_value int_result(napi_env env, int value) {
  napi_value out;
  napi_create_int32(env, value, &out);
  return out;
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
  return int_result(env, whole);
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
  return int_result(env, rc < 0 ? -errno : 0);
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
  return int_result(env, rc);
}

#define MAX_FDS_PER_RECORD 250

static napi_value socket_pair(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t* out;
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      !int32_array(env, argv[0], &out, &length) || length < 2)
    return fail(env, "socketPair(out): an Int32Array of 2 expected");
  int pair[2];
#ifdef SOCK_CLOEXEC
  int rc = socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair);
#else
  int rc = socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair);
#endif
  if (rc < 0) return int_result(env, -errno);
  out[0] = pair[0];
  out[1] = pair[1];
  return int_result(env, 0);
}

static napi_value send_fds(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd, count;
  int32_t* fds;
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return fail(env, "sendFds(fd, fds, count): 3 arguments expected");
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return fail(env, "fd must be a number");
  if (!int32_array(env, argv[1], &fds, &length)) return fail(env, "fds must be an Int32Array");
  if (napi_get_value_int32(env, argv[2], &count) != napi_ok || count < 1 || count > MAX_FDS_PER_RECORD ||
      (size_t)count > length)
    return fail(env, "count must be 1..250 and within fds");
  char byte = 0;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_RECORD)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
  memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * count);
  ssize_t sent;
  do sent = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  return int_result(env, sent < 0 ? -errno : 0);
}

static napi_value receive_fds(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  int32_t* out;
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return fail(env, "receiveFds(fd, out): 2 arguments expected");
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return fail(env, "fd must be a number");
  if (!int32_array(env, argv[1], &out, &length)) return fail(env, "out must be an Int32Array");
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_RECORD)];
    struct cmsghdr align;
  } control;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  int flags = MSG_DONTWAIT;
#ifdef MSG_CMSG_CLOEXEC
  flags |= MSG_CMSG_CLOEXEC;
#endif
  ssize_t got;
  do got = recvmsg(fd, &msg, flags);
  while (got < 0 && errno == EINTR);
  if (got < 0) return int_result(env, -errno);
  int n = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    int* received = (int*)CMSG_DATA(c);
    for (int i = 0; i < k; i++) {
      if ((size_t)n < length) out[n++] = received[i];
      else close(received[i]); /* no room: never leak a descriptor */
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) return int_result(env, -EMSGSIZE);
  return int_result(env, n);
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok)
    return fail(env, "closeFd(fd): a number expected");
  return int_result(env, close(fd) < 0 ? -errno : 0);
}

static int export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) != napi_ok) return 0;
  return napi_set_named_property(env, exports, name, fn) == napi_ok;
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
  if (!export_fn(env, exports, "socketPair", socket_pair) || !export_fn(env, exports, "sendFds", send_fds) ||
      !export_fn(env, exports, "receiveFds", receive_fds) || !export_fn(env, exports, "closeFd", close_fd))
    return NULL;
  return exports;
}
