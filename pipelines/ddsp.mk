# pipelines/ddsp.mk: recordings of an instrument → a melody played by it (DDSP timbre transfer),
# as Make targets on real files under work/ddsp-NAME/.
#
#   make timbre INSTRUMENT=dir MELODY=file [DDSP_PRESET=small] [DDSP_MINUTES=15] [DDSP_SEED=1]
#               [DDSP_TRANSFER_FLAGS=--auto]
#   make timbre-train INSTRUMENT=dir       only the training
#   make timbre-quick INSTRUMENT=dir MELODY=file   the same in a minute (tiny model, few steps)
#
# As the album pipeline: a work folder (DDSP_WORK), a settings record per stage (a stage reruns
# when its settings change), the programs as variables. Training continues where it stopped:
# an interrupted run (no run/.done) is resumed; `make timbre-more` trains DDSP_MINUTES more.

DDSP_PRESET         ?= small
DDSP_MINUTES        ?= 15
DDSP_SEED           ?= 1
DDSP_TRAIN_FLAGS    ?= --checkpoint-every 100
DDSP_TRANSFER_FLAGS ?= --auto
DDSP_NAME           ?= $(notdir $(patsubst %/,%,$(INSTRUMENT)))
DDSP_WORK           ?= work/ddsp-$(DDSP_NAME)
DDSP_OUT            ?= $(DDSP_WORK)/$(basename $(notdir $(MELODY)))-played.wav
DDSP_HARMONIC       ?= $(BINDIR)/ddsp-harmonic
WAVCHUNK            ?= $(BINDIR)/wavchunk
QTRAIN              ?= $(BINDIR)/qtrain

DDSP_AUDIO = $(sort $(wildcard $(addprefix $(INSTRUMENT)/*.,wav flac ogg mp3 WAV FLAC OGG MP3 aiff opus)))
KEY_ddsp-chunks   = INSTRUMENT=$(INSTRUMENT)
KEY_ddsp-train    = PRESET=$(DDSP_PRESET) MINUTES=$(DDSP_MINUTES) SEED=$(DDSP_SEED) $(DDSP_TRAIN_FLAGS)
KEY_ddsp-transfer = MELODY=$(MELODY) $(DDSP_TRANSFER_FLAGS)

.PHONY: timbre timbre-train timbre-more timbre-quick FORCE
timbre: $(DDSP_OUT)
	@echo "timbre: $(DDSP_OUT)" >&2
timbre-train: $(DDSP_WORK)/run/.done

timbre-quick:
	@$(MAKE) --no-print-directory timbre DDSP_PRESET=tiny DDSP_MINUTES=0.2 \
	    DDSP_TRAIN_FLAGS='--checkpoint-every 20 --threads 1' DDSP_WORK=$(DDSP_WORK)-quick

$(DDSP_WORK)/.settings-%: FORCE
	@mkdir -p $(@D)
	@echo '$(KEY_$*)' > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

# 4 s examples with a 1 s hop, as DDSP's solo-instrument recipe
$(DDSP_WORK)/chunks.npy: $(DDSP_AUDIO) $(WAVCHUNK) $(DDSP_WORK)/.settings-ddsp-chunks | $(DEPSTAMP)
	@test -n "$(INSTRUMENT)" || { echo "timbre: INSTRUMENT=folder of recordings is required" >&2; exit 1; }
	@test -n "$(DDSP_AUDIO)" || { echo "timbre: $(INSTRUMENT): no audio files (wav, flac, ogg, mp3)" >&2; exit 1; }
	$(WAVCHUNK) -r 16000 -l 4 -p 3 -o $@ $(DDSP_AUDIO)

# A run made with other settings or data starts again; one that was interrupted continues.
# (qtrain is order-only: a rebuilt program does not retrain a finished run)
$(DDSP_WORK)/run/.done: $(DDSP_WORK)/chunks.npy $(DDSP_WORK)/.settings-ddsp-train | $(QTRAIN)
	@if [ -d $(DDSP_WORK)/run ] && ! cmp -s $(DDSP_WORK)/.settings-ddsp-train $(DDSP_WORK)/run/.settings; then \
	    echo "timbre: settings changed, training again" >&2; rm -rf $(DDSP_WORK)/run; fi
	@if [ -f $(DDSP_WORK)/run/last.safetensors ]; then \
	    echo "$(QTRAIN) --resume $(DDSP_WORK)/run --minutes $(DDSP_MINUTES) -o $(DDSP_WORK)/run $<"; \
	    $(QTRAIN) --resume $(DDSP_WORK)/run --minutes $(DDSP_MINUTES) $(filter-out --threads%,$(DDSP_TRAIN_FLAGS)) -o $(DDSP_WORK)/run $<; \
	else \
	    echo "$(QTRAIN) --model ddsp --preset $(DDSP_PRESET) --minutes $(DDSP_MINUTES) --seed $(DDSP_SEED) $(DDSP_TRAIN_FLAGS) -o $(DDSP_WORK)/run $<"; \
	    $(QTRAIN) --model ddsp --preset $(DDSP_PRESET) --minutes $(DDSP_MINUTES) --seed $(DDSP_SEED) \
	        $(DDSP_TRAIN_FLAGS) -o $(DDSP_WORK)/run $<; \
	fi
	cp $(DDSP_WORK)/.settings-ddsp-train $(DDSP_WORK)/run/.settings
	touch $@

timbre-more: $(DDSP_WORK)/run/.done
	$(QTRAIN) --resume $(DDSP_WORK)/run --minutes $(DDSP_MINUTES) -o $(DDSP_WORK)/run $(DDSP_WORK)/chunks.npy
	touch $(DDSP_WORK)/run/.done

$(DDSP_OUT): $(DDSP_WORK)/run/.done $(MELODY) $(DDSP_HARMONIC) $(DDSP_WORK)/.settings-ddsp-transfer
	@test -n "$(MELODY)" || { echo "timbre: MELODY=audio file is required" >&2; exit 1; }
	$(DDSP_HARMONIC) transfer --model $(DDSP_WORK)/run/best.safetensors $(DDSP_TRANSFER_FLAGS) -o $@ $(MELODY)
