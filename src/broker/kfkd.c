/*
 * kfkd.c -- the broker's main(): placeholder until the server lands.
 */
#include <stdio.h>

int
main(void)
{
    fprintf(stderr, "kfkd: not yet\n");
    return 1;
}
