// Links the protobuf-lite codec into a program (the tests and fuzzers): codec.cpp
// finds this definition of its weak reference and uses the table from the start,
// with no module to load.
#include "pb_codec.h"

extern "C" const webpush::fcm::Codec* webpushd_fcm_linked_codec() { return &webpush::fcm::pb_codec::table(); }
