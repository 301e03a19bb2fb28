/* Baseline "C Ed25519 verifier": a FastCGI responder that checks the Bearer JWT's Ed25519
 * signature with libsodium and its exp claim, then answers 204 (or 401). No cache: every
 * request pays the signature check. Built by deploy/bench/run:
 *   gcc -O2 fcgi_ed25519.c -lfcgi -lsodium;  usage: fcgi_ed25519 SOCKET PUBLIC_KEY_BASE64URL */
#include <fcgiapp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned char public_key[crypto_sign_PUBLICKEYBYTES];

/* 1 when TOKEN (header.payload.signature) is signed by public_key and not expired. */
static int token_is_valid(const char *token) {
    const char *first = strchr(token, '.');
    const char *second = first ? strchr(first + 1, '.') : NULL;
    if (!second) return 0;
    unsigned char signature[crypto_sign_BYTES];
    size_t signature_length = 0;
    if (sodium_base642bin(signature, sizeof signature, second + 1, strlen(second + 1), NULL, &signature_length,
                          NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || signature_length != sizeof signature)
        return 0;
    if (crypto_sign_verify_detached(signature, (const unsigned char *)token, (size_t)(second - token), public_key) != 0)
        return 0;
    char payload[4096];
    size_t payload_length = 0;
    if (sodium_base642bin((unsigned char *)payload, sizeof payload - 1, first + 1, (size_t)(second - first - 1), NULL,
                          &payload_length, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return 0;
    payload[payload_length] = 0;
    const char *exp = strstr(payload, "\"exp\":");
    return exp && strtod(exp + 6, NULL) > (double)time(NULL);
}

int main(int argc, char **argv) {
    size_t key_length = 0;
    if (argc != 3 || sodium_init() < 0 ||
        sodium_base642bin(public_key, sizeof public_key, argv[2], strlen(argv[2]), NULL, &key_length, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || key_length != sizeof public_key) {
        fprintf(stderr, "usage: %s SOCKET PUBLIC_KEY_BASE64URL\n", argv[0]);
        return 2;
    }
    FCGX_Init();
    int listener = FCGX_OpenSocket(argv[1], 1024);
    if (listener < 0) { perror("FCGX_OpenSocket"); return 1; }
    FCGX_Request request;
    FCGX_InitRequest(&request, listener, 0);
    while (FCGX_Accept_r(&request) >= 0) {
        const char *authorization = FCGX_GetParam("HTTP_AUTHORIZATION", request.envp);
        int valid = authorization && strncmp(authorization, "Bearer ", 7) == 0 && token_is_valid(authorization + 7);
        FCGX_PutS(valid ? "Status: 204 No Content\r\n\r\n" : "Status: 401 Unauthorized\r\n\r\n", request.out);
        FCGX_Finish_r(&request);
    }
    return 0;
}
