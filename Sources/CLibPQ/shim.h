#ifndef LATENT_CLIBPQ_SHIM_H
#define LATENT_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
