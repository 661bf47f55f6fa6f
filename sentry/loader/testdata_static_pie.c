/* A trivial program linked -static-pie, loaded by elf_loader_test. */
int main(void) { return 0; }
