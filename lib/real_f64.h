/* real_f64.h: the double-precision names of the lib/NAME_real.c files. Each is compiled twice
 * (see the Makefile): in float with the plain names, and with -DREAL_F64 in double, where this
 * header renames every function they define or call from one another to its _f64 twin
 * (nn_gemm -> nn_gemm_f64), the names nn.h, samplernn.h and wavenet.h declare for double. A
 * _real.c includes it after every other header. A new function of a _real.c that other files
 * call gets its line here. */
#ifndef SHARKS_REAL_F64_H
#define SHARKS_REAL_F64_H
#ifdef REAL_F64

/* lib/nn_real.c */
#define adam_step adam_step_f64
#define ce_backward ce_backward_f64
#define ce_forward ce_forward_f64
#define clip_elementwise clip_elementwise_f64
#define clip_global_norm clip_global_norm_f64
#define embedding_backward embedding_backward_f64
#define embedding_forward embedding_forward_f64
#define gru_backward gru_backward_f64
#define gru_cell_forward gru_cell_forward_f64
#define gru_forward gru_forward_f64
#define linear_backward linear_backward_f64
#define linear_backward_ref linear_backward_ref_f64
#define linear_forward linear_forward_f64
#define linear_forward_ref linear_forward_ref_f64
#define lstm_backward lstm_backward_f64
#define lstm_cell_forward lstm_cell_forward_f64
#define lstm_forward lstm_forward_f64
#define nn_fill_normal nn_fill_normal_f64
#define nn_fill_uniform nn_fill_uniform_f64
#define nn_gemm nn_gemm_f64
#define nn_model_alloc nn_model_alloc_f64
#define nn_model_free nn_model_free_f64
#define relu_backward relu_backward_f64
#define relu_forward relu_forward_f64
#define relu_mask relu_mask_f64
#define scale_to_norm scale_to_norm_f64
#define sumsq_blocks sumsq_blocks_f64
#define weightnorm_backward weightnorm_backward_f64
#define weightnorm_forward weightnorm_forward_f64

/* lib/samplernn_real.c */
#define srnn_create srnn_create_f64
#define srnn_forward srnn_forward_f64
#define srnn_forward_backward srnn_forward_backward_f64
#define srnn_free srnn_free_f64
#define srnn_grads srnn_grads_f64
#define srnn_init_params srnn_init_params_f64
#define srnn_last_logits srnn_last_logits_f64
#define srnn_num_params srnn_num_params_f64
#define srnn_param_count srnn_param_count_f64
#define srnn_param_info srnn_param_info_f64
#define srnn_params srnn_params_f64
#define srnn_state_floats srnn_state_floats_f64
#define srnn_state_reset srnn_state_reset_f64
#define srnn_state_copy_rows srnn_state_copy_rows_f64
#define srnn_use_reference srnn_use_reference_f64

/* lib/wavenet_real.c */
#define wn_create wn_create_f64
#define wn_dconv_backward wn_dconv_backward_f64
#define wn_dconv_forward wn_dconv_forward_f64
#define wn_embed_taps_backward wn_embed_taps_backward_f64
#define wn_embed_taps_forward wn_embed_taps_forward_f64
#define wn_forward wn_forward_f64
#define wn_forward_backward wn_forward_backward_f64
#define wn_free wn_free_f64
#define wn_gate_backward wn_gate_backward_f64
#define wn_gate_forward wn_gate_forward_f64
#define wn_grads wn_grads_f64
#define wn_init_params wn_init_params_f64
#define wn_last_probs wn_last_probs_f64
#define wn_num_params wn_num_params_f64
#define wn_param_count wn_param_count_f64
#define wn_param_info wn_param_info_f64
#define wn_params wn_params_f64
#define wn_scalar_conv_backward wn_scalar_conv_backward_f64
#define wn_scalar_conv_forward wn_scalar_conv_forward_f64

/* lib/ddsp_model_real.c (types too: ddsp_model.h declares both) */
#define ddsp_fft ddsp_fft_f64
#define ddsp_fft_free ddsp_fft_free_f64
#define ddsp_fft_new ddsp_fft_new_f64
#define ddsp_harmonic_backward ddsp_harmonic_backward_f64
#define ddsp_harmonic_forward ddsp_harmonic_forward_f64
#define ddsp_layernorm_backward ddsp_layernorm_backward_f64
#define ddsp_layernorm_forward ddsp_layernorm_forward_f64
#define ddsp_net ddsp_net_f64
#define ddsp_net_config ddsp_net_config_f64
#define ddsp_net_decode ddsp_net_decode_f64
#define ddsp_net_free ddsp_net_free_f64
#define ddsp_net_grads ddsp_net_grads_f64
#define ddsp_net_init_params ddsp_net_init_params_f64
#define ddsp_net_new ddsp_net_new_f64
#define ddsp_net_num_params ddsp_net_num_params_f64
#define ddsp_net_param_info ddsp_net_param_info_f64
#define ddsp_net_params ddsp_net_params_f64
#define ddsp_net_run ddsp_net_run_f64
#define ddsp_noise_backward ddsp_noise_backward_f64
#define ddsp_noise_design ddsp_noise_design_f64
#define ddsp_noise_forward ddsp_noise_forward_f64
#define ddsp_reverb_backward ddsp_reverb_backward_f64
#define ddsp_reverb_forward ddsp_reverb_forward_f64
#define ddsp_scale_fn ddsp_scale_fn_f64
#define ddsp_scale_fn_grad ddsp_scale_fn_grad_f64
#define ddsp_spectral_loss_grad ddsp_spectral_loss_grad_f64
#endif
#endif
