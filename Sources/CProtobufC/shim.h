// libprotobuf-c from Debian's libprotobuf-c-dev.
#ifndef MESHLINE_CPROTOBUFC_SHIM_H
#define MESHLINE_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>

// protobuf_c_empty_string is an array of unknown size, which Swift does not
// import; unset string fields point at it.
static inline const char *meshline_protobuf_c_empty_string(void) {
    return protobuf_c_empty_string;
}
#endif
