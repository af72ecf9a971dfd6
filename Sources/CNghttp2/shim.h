// libnghttp2 from Debian's libnghttp2-dev (1.52: the ssize_t API, without the *2 functions).
#ifndef MESHLINE_CNGHTTP2_SHIM_H
#define MESHLINE_CNGHTTP2_SHIM_H
#include <nghttp2/nghttp2.h>
#endif
