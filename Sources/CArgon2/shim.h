#ifndef TOKENGATE_CARGON2_SHIM_H
#define TOKENGATE_CARGON2_SHIM_H
#include <argon2.h>
#endif
