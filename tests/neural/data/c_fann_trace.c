// C driver that produced c_fann_traces.tsv with Debian libfann-dev 2.2.0+ds-8 (libfloatfann):
// gcc -O2 c_fann_trace.c -o trace -lfloatfann -lm; ./trace NET DATA ALGORITHM ERROR_FUNCTION 50
// (sparse0.5 with INCREMENTAL is left out: FANN 2.2.0 updates sparse nets incrementally from the
// wrong source neurons, prev_neurons[i] instead of connections[i], a bug we do not reproduce.)
#include <stdio.h>
#include <stdlib.h>
#include "floatfann.h"
int main(int argc, char**argv){
  struct fann *ann = fann_create_from_file(argv[1]);
  struct fann_train_data *d = fann_read_train_from_file(argv[2]);
  fann_set_training_algorithm(ann, atoi(argv[3]));
  fann_set_train_error_function(ann, atoi(argv[4]));
  int epochs = atoi(argv[5]);
  srand(7);
  for(int e=1;e<=epochs;e++){ float m = fann_train_epoch(ann,d); printf("%d %.9g %u\n", e, m, fann_get_bit_fail(ann)); }
  if(argc>6) fann_save(ann, argv[6]);
  return 0;
}
