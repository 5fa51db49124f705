#ifndef LATENT_CRDKAFKA_SHIM_H
#define LATENT_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
// The mock cluster header must come after rdkafka.h.
#include <librdkafka/rdkafka_mock.h>
#endif
