# pipelines/album.mk: recordings → album, as Make targets on real files under work/ARTIST/.
#
#   make album [ARTIST=name] [AUDIO=dir] [PRESET=small] [TRAIN_MINUTES=30] [CLIPS=48]
#              [SECONDS=20] [SEED=1] [TITLES=file]
#   make album-quick        the same pipeline in a few minutes (the test suite runs it)
#   make reproduce ARTIST=name    rebuild an album from its record and compare with SHA256SUMS
#
# Each stage's command is a variable (WAVCHUNK, MULAW, QTRAIN, QSAMPLE, CURATE, ALBUMART,
# ASSEMBLE) so that one program can be swapped for your own; rerunning after a change redoes
# only what depends on it. Stop after a stage with e.g. `make album-train`.

ARTIST        ?= asc-music
ifeq ($(ARTIST),asc-music)
AUDIO         ?= data/asc-music
else
AUDIO         ?= $(error AUDIO=folder of recordings is needed with ARTIST=$(ARTIST))
endif
PRESET        ?= small
TRAIN_MINUTES ?= 30
# When TRAIN_STEPS is set it replaces TRAIN_MINUTES (make reproduce sets it from the record).
TRAIN_STEPS   ?=
CLIPS         ?= 48
SECONDS       ?= 20
SEED          ?= 1
TEMP          ?= 0.95
RATE          ?= 16000
TRACK_MINUTES ?= 4
TITLES        ?=
WORK          ?= work/$(ARTIST)
ALBUM         ?= album/$(ARTIST)

WAVCHUNK ?= $(BINDIR)/wavchunk
MULAW    ?= $(BINDIR)/mulaw
QTRAIN   ?= $(BINDIR)/qtrain
QSAMPLE  ?= $(BINDIR)/qsample
CURATE   ?= $(BINDIR)/curate
ALBUMART ?= $(BINDIR)/albumart
ASSEMBLE ?= sh pipelines/album-assemble.sh

# Audio files of the artist, in a stable order.
AUDIO_FILES = $(sort $(wildcard $(addprefix $(AUDIO)/*.,wav flac ogg mp3 WAV FLAC OGG MP3 aiff opus)))
TRAIN_STOP  = $(if $(TRAIN_STEPS),--steps $(TRAIN_STEPS),--minutes $(TRAIN_MINUTES))
# The settings that make each stage's output what it is: written to WORK/.settings-STAGE
# (touched only when they change), so changing e.g. CLIPS reruns sampling, not training.
KEY_chunks = AUDIO=$(AUDIO) RATE=$(RATE)
KEY_train  = PRESET=$(PRESET) TRAIN=$(TRAIN_STOP) SEED=$(SEED)
KEY_sample = CLIPS=$(CLIPS) SECONDS=$(SECONDS) TEMP=$(TEMP) SEED=$(SEED)
KEY_curate = TRACK_MINUTES=$(TRACK_MINUTES) SEED=$(SEED)
KEY_album  = TITLES=$(TITLES) SEED=$(SEED) ARTIST=$(ARTIST)

.PHONY: album album-quick album-chunks album-train album-sample album-curate reproduce FORCE
album: $(ALBUM)/SHA256SUMS
	@echo "album: $(ALBUM)/index.html" >&2

album-chunks: $(WORK)/codes.npy
album-train: $(WORK)/run/best.safetensors
album-sample: $(WORK)/clips/.done
album-curate: $(WORK)/tracks/tracklist.tsv

# A few minutes end to end: tiny model, short training, a handful of short clips.
album-quick:
	@$(MAKE) --no-print-directory album ARTIST=$(ARTIST)-quick AUDIO=$(AUDIO) PRESET=tiny \
	    TRAIN_STEPS=$(or $(TRAIN_STEPS),60) CLIPS=$(if $(filter 48,$(CLIPS)),6,$(CLIPS)) \
	    SECONDS=$(if $(filter 20,$(SECONDS)),6,$(SECONDS)) TRACK_MINUTES=0.2 SEED=$(SEED)

$(WORK)/.settings-%: FORCE
	@mkdir -p $(@D)
	@echo '$(KEY_$*)' > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

$(WORK)/chunks.npy: $(AUDIO_FILES) $(WAVCHUNK) $(WORK)/.settings-chunks | $(DEPSTAMP)
	@test -n "$(AUDIO_FILES)" || { echo "album: $(AUDIO): no audio files (wav, flac, ogg, mp3)" >&2; \
	    [ "$(ARTIST)" = asc-music ] && echo "album: run 'make data' to fetch the default recordings" >&2; exit 1; }
	$(WAVCHUNK) -r $(RATE) -o $@ $(AUDIO_FILES)

$(WORK)/codes.npy: $(WORK)/chunks.npy $(MULAW)
	$(MULAW) -o $@ $<

$(WORK)/run/best.safetensors: $(WORK)/codes.npy $(QTRAIN) $(WORK)/.settings-train
	rm -rf $(WORK)/run
	$(QTRAIN) --preset $(PRESET) $(TRAIN_STOP) --seed $(SEED) -r $(RATE) -o $(WORK)/run $<

$(WORK)/clips/.done: $(WORK)/run/best.safetensors $(QSAMPLE) $(WORK)/.settings-sample
	rm -rf $(WORK)/clips
	$(QSAMPLE) -n $(CLIPS) -s $(SECONDS) -t $(TEMP) --seed $(SEED) -o $(WORK)/clips/ $<
	@touch $@

$(WORK)/tracks/tracklist.tsv: $(WORK)/clips/.done $(CURATE) $(WORK)/.settings-curate
	rm -rf $(WORK)/tracks
	$(CURATE) --seed $(SEED) --track-minutes $(TRACK_MINUTES) -o $(WORK)/tracks $(sort $(wildcard $(WORK)/clips/*.wav))

$(ALBUM)/SHA256SUMS: $(WORK)/tracks/tracklist.tsv $(ALBUMART) pipelines/album-assemble.sh $(TITLES) $(WORK)/.settings-album
	ARTIST='$(ARTIST)' WORK='$(WORK)' ALBUM='$(ALBUM)' SEED='$(SEED)' TITLES='$(TITLES)' \
	BIN='$(BINDIR)' ALBUMART='$(ALBUMART)' PRESET='$(PRESET)' CLIPS='$(CLIPS)' SECONDS='$(SECONDS)' \
	TEMP='$(TEMP)' RATE='$(RATE)' TRACK_MINUTES='$(TRACK_MINUTES)' AUDIO='$(AUDIO)' $(ASSEMBLE)

# Rebuild the album from what it records (settings and the exact number of training steps)
# into a scratch directory, then compare every file listed in SHA256SUMS.
reproduce:
	@test -f $(ALBUM)/album.json || { echo "reproduce: $(ALBUM)/album.json: no album to reproduce" >&2; exit 1; }
	@sh pipelines/album-reproduce.sh '$(ALBUM)' '$(ARTIST)'
