#ifndef C_GREYLIST_NIO_SYSTEM_H
#define C_GREYLIST_NIO_SYSTEM_H

#include <sys/socket.h>

/// accept(2) with flags (Linux): GreylistAcceptor accepts with SOCK_CLOEXEC | SOCK_NONBLOCK in one
/// call, so no descriptor leaks into a child process and a refused socket costs no extra syscall.
/// Swift's Glibc module does not declare accept4 (a GNU extension), so this header does.
int greylist_nio_accept4(int descriptor, struct sockaddr *address, socklen_t *length, int flags);

#endif
