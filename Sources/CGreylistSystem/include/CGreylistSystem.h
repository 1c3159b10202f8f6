#ifndef C_GREYLIST_SYSTEM_H
#define C_GREYLIST_SYSTEM_H

#include <sys/socket.h>

/// accept(2) with flags (Linux): the demo accepts with SOCK_CLOEXEC, so no descriptor leaks into a
/// child process between accept and close. Swift's Glibc module does not declare it (it is a
/// GNU extension), so this header does.
int greylist_accept4(int descriptor, struct sockaddr *address, socklen_t *length, int flags);

#endif
