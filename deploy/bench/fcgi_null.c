/* Baseline: a FastCGI responder that does nothing but answer 204 (the FastCGI floor).
 * Built by deploy/bench/run: gcc -O2 fcgi_null.c -lfcgi; usage: fcgi_null /path/to.sock */
#include <fcgiapp.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s SOCKET\n", argv[0]); return 2; }
    FCGX_Init();
    int listener = FCGX_OpenSocket(argv[1], 1024);
    if (listener < 0) { perror("FCGX_OpenSocket"); return 1; }
    FCGX_Request request;
    FCGX_InitRequest(&request, listener, 0);
    while (FCGX_Accept_r(&request) >= 0) {
        FCGX_PutS("Status: 204 No Content\r\n\r\n", request.out);
        FCGX_Finish_r(&request);
    }
    return 0;
}
