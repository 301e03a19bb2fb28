#ifndef TOKENGATE_CFASTCGI_SHIM_H
#define TOKENGATE_CFASTCGI_SHIM_H
#include <fcgiapp.h>
#endif
