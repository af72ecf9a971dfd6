// libprotobuf-c from Debian's libprotobuf-c-dev.
#ifndef MESHLINE_CPROTOBUFC_SHIM_H
#define MESHLINE_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif
